/**
 * From, To, Contact values (RFC 3261 §20.10, §20.20, §20.39, §25.1):
 * ( name-addr / addr-spec ) *( SEMI param ), name-addr = [ display-name ] LAQUOT addr-spec RAQUOT.
 */
import { SipParseError } from "./errors.ts";
import { formatParams, parseParams, quote, quotedEnd, type HeaderParams } from "./params.ts";
import { formatUri, parseUri, type SipUri } from "./uri.ts";

export interface NameAddr {
  displayName?: string;
  uri: SipUri;
  /** Header parameters, e.g. tag, expires, +sip.instance. */
  params: HeaderParams;
}

const MAX_LENGTH = 4096;

export function parseNameAddr(text: string): NameAddr {
  if (text.length > MAX_LENGTH) throw new SipParseError("bad-name-addr", "address too long");
  const s = text.trim();
  let displayName: string | undefined;
  let uriText: string;
  let rest: string;
  let i = 0;
  if (s.startsWith('"')) {
    const end = quotedEnd(s, 0);
    displayName = s.slice(1, end - 1).replace(/\\(.)/g, "$1");
    i = end;
    while (s[i] === " " || s[i] === "\t") i++;
    if (s[i] !== "<") throw new SipParseError("bad-name-addr", "quoted display name not followed by <URI>");
  }
  const lt = s.indexOf("<", i);
  if (lt >= 0) {
    if (displayName === undefined) {
      const tokens = s.slice(0, lt).trim();
      if (tokens.length > 0) {
        // display-name = *(token LWS)
        if (!/^[A-Za-z0-9\-.!%*_+`'~]+(?:[ \t]+[A-Za-z0-9\-.!%*_+`'~]+)*$/.test(tokens)) {
          throw new SipParseError("bad-name-addr", "unquoted display name holds characters outside token");
        }
        displayName = tokens.replace(/[ \t]+/g, " ");
      }
    }
    const gt = s.indexOf(">", lt);
    if (gt < 0) throw new SipParseError("bad-name-addr", "unterminated <URI>");
    uriText = s.slice(lt + 1, gt);
    rest = s.slice(gt + 1);
  } else {
    // addr-spec: a ';' ends the URI; what follows are header parameters (RFC 3261 §20.10).
    const semi = s.indexOf(";");
    uriText = semi >= 0 ? s.slice(0, semi) : s;
    rest = semi >= 0 ? s.slice(semi) : "";
    if (/[\s,?]/.test(uriText)) throw new SipParseError("bad-name-addr", "addr-spec with ',', '?' or space needs <>");
  }
  let uri: SipUri;
  try {
    uri = parseUri(uriText.trim());
  } catch (err) {
    throw new SipParseError("bad-name-addr", `bad URI in address: ${(err as Error).message}`);
  }
  const params = parseParams(rest, "address");
  const out: NameAddr = { uri, params };
  if (displayName !== undefined) out.displayName = displayName;
  return out;
}

/** Always writes the name-addr form with <>, which is unambiguous whatever the URI holds. */
export function formatNameAddr(addr: NameAddr): string {
  const name = addr.displayName !== undefined && addr.displayName.length > 0 ? quote(addr.displayName) + " " : "";
  return `${name}<${formatUri(addr.uri)}>${formatParams(addr.params)}`;
}

/** The tag parameter (RFC 3261 §19.3), if any. */
export function tagOf(value: string): string | undefined {
  const tag = parseNameAddr(value).params.get("tag");
  return tag === null || tag === undefined ? undefined : tag;
}
