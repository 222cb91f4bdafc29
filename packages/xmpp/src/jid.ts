import { isIPv6 } from "node:net";
import { decode as punycodeDecode, encode as punycodeEncode } from "punycode/punycode.es6.js";
import { JidError } from "./jid-error.ts";

export { JidError } from "./jid-error.ts";
export { escapeLocal, unescapeLocal } from "./jid-escaping.ts";

// RFC 7622 §3.1: each part is 1 to 1023 octets once prepared.
const MAX_PART_BYTES = 1023;
// RFC 5890 §2.3.2.1 (via RFC 7622 §3.2): a DNS label is at most 63 octets.
const MAX_LABEL_BYTES = 63;

// RFC 8265 §3.3 + §4.2 (IdentifierClass), approximated: ASCII printable, letters, digits, marks.
const IDENTIFIER = /^[\x21-\x7E\p{Ll}\p{Lu}\p{Lt}\p{Lo}\p{Lm}\p{Nd}\p{Mn}\p{Mc}]+$/u;
// RFC 7622 §3.3.1: characters a localpart may not contain even though IdentifierClass allows them.
const LOCAL_FORBIDDEN = /["&'/:<>@]/;
// RFC 8265 §4.2 (FreeformClass), approximated: no controls, surrogates or unassigned code points.
const FREEFORM_DISALLOWED = /[\p{Cc}\p{Cs}\p{Cn}]/u;
// RFC 8265 §4.2.1 width mapping: fullwidth and halfwidth forms map to their decompositions.
const WIDTH_FORMS = /[\uFF01-\uFFEE]/gu;
// RFC 5891 §5.4 (approximated): a U-label is letters, digits, marks and hyphens.
const U_LABEL = /^[\p{L}\p{Nd}\p{Mn}\p{Mc}-]+$/u;
const LDH_LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
const NON_ASCII = /[^\u0020-\u007E]/;

function checkLength(part: string, what: string): void {
  if (part.length === 0) throw new JidError(`empty ${what}`);
  if (Buffer.byteLength(part, "utf8") > MAX_PART_BYTES) throw new JidError(`${what} longer than 1023 bytes`);
}

// RFC 7622 §3.3.2: the localpart is prepared with the UsernameCaseMapped profile (RFC 8265 §3.4).
function prepareLocal(s: string): string {
  const mapped = s
    .replace(WIDTH_FORMS, (c) => c.normalize("NFKC"))
    .toLowerCase()
    .normalize("NFC");
  checkLength(mapped, "localpart");
  if (!IDENTIFIER.test(mapped) || LOCAL_FORBIDDEN.test(mapped))
    throw new JidError("invalid character in localpart");
  return mapped;
}

// RFC 7622 §3.4.2: the resourcepart is prepared with the OpaqueString profile (RFC 8265 §4.2).
function prepareResource(s: string): string {
  const mapped = s.replace(/\p{Zs}/gu, " ").normalize("NFC");
  checkLength(mapped, "resourcepart");
  if (FREEFORM_DISALLOWED.test(mapped)) throw new JidError("invalid character in resourcepart");
  return mapped;
}

function aLabel(label: string): string {
  if (label.length === 0) throw new JidError("empty label in domainpart");
  let ascii = label;
  if (NON_ASCII.test(label)) {
    if (!U_LABEL.test(label)) throw new JidError("invalid character in domainpart");
    // RFC 5891 §4.4: a U-label is registered and compared as its A-label, "xn--" + Punycode (RFC 3492).
    ascii = `xn--${punycodeEncode(label)}`;
  } else if (label.startsWith("xn--")) {
    try {
      if (punycodeEncode(punycodeDecode(label.slice(4))) !== label.slice(4)) throw new Error("not canonical");
    } catch {
      throw new JidError("invalid A-label in domainpart");
    }
  }
  if (ascii.length > MAX_LABEL_BYTES) throw new JidError("label longer than 63 bytes in domainpart");
  if (!LDH_LABEL.test(ascii)) throw new JidError("invalid character in domainpart");
  return ascii;
}

// RFC 7622 §3.2: an IP literal or a domain name, without a trailing dot, lower case, IDNA A-labels.
function prepareDomain(s: string): string {
  let d = s.endsWith(".") ? s.slice(0, -1) : s;
  checkLength(d, "domainpart");
  if (d.startsWith("[")) {
    // RFC 7622 §3.2.1: an IPv6 literal in brackets (RFC 3986 §3.2.2).
    if (!d.endsWith("]") || !isIPv6(d.slice(1, -1))) throw new JidError("invalid IPv6 literal in domainpart");
    return d.toLowerCase();
  }
  d = d.toLowerCase().normalize("NFC");
  const prepared = d.split(".").map(aLabel).join(".");
  checkLength(prepared, "domainpart");
  return prepared;
}

/**
 * Preparing a part (PRECIS, IDNA) is pure and the same addresses come back stanza after stanza:
 * the prepared forms of recent parts are kept (bounded; emptied when full). Failures are not kept.
 */
function memo(prepare: (s: string) => string, max = 2048): (s: string) => string {
  const cache = new Map<string, string>();
  return (s) => {
    const known = cache.get(s);
    if (known !== undefined) return known;
    const prepared = prepare(s);
    if (cache.size >= max) cache.clear();
    cache.set(s, prepared);
    return prepared;
  };
}
const prepareLocalCached = memo(prepareLocal);
const prepareDomainCached = memo(prepareDomain);
const prepareResourceCached = memo(prepareResource);

/** An XMPP address (RFC 7622): each part prepared, the domain in lower-case ASCII (A-labels). */
export class Jid {
  readonly local?: string;
  readonly domain: string;
  readonly resource?: string;

  /** Prepares and checks each part; throws JidError. */
  constructor(local: string | undefined, domain: string, resource?: string) {
    if (local !== undefined) this.local = prepareLocalCached(local);
    this.domain = prepareDomainCached(domain);
    if (resource !== undefined) this.resource = prepareResourceCached(resource);
  }

  // RFC 7622 §3.1: localpart up to the first "@", resourcepart after the first "/" (which may hold "@" and "/").
  static parse(s: string): Jid {
    const slash = s.indexOf("/");
    const head = slash === -1 ? s : s.slice(0, slash);
    const resource = slash === -1 ? undefined : s.slice(slash + 1);
    const at = head.indexOf("@");
    const local = at === -1 ? undefined : head.slice(0, at);
    const domain = at === -1 ? head : head.slice(at + 1);
    return new Jid(local, domain, resource);
  }

  bare(): Jid {
    return this.resource === undefined ? this : new Jid(this.local, this.domain);
  }

  isBare(): boolean {
    return this.resource === undefined;
  }

  toString(): string {
    let s = this.domain;
    if (this.local !== undefined) s = `${this.local}@${s}`;
    if (this.resource !== undefined) s = `${s}/${this.resource}`;
    return s;
  }

  equals(o: Jid): boolean {
    return this.local === o.local && this.domain === o.domain && this.resource === o.resource;
  }
}
