/**
 * SIP and SIPS URIs (RFC 3261 §19.1): parse, format, with %-escaping of each component.
 */
import { SipParseError } from "./errors.ts";

export interface SipUri {
  scheme: "sip" | "sips";
  /** Unescaped user part. */
  user?: string;
  /** Unescaped password (RFC 3261 §19.1.1 advises against its use). */
  password?: string;
  /** Lower-cased host name, IPv4 address, or IPv6 reference with its brackets. */
  host: string;
  port?: number;
  /** uri-parameters, names lower-cased, values unescaped (null for a parameter without value), in order. */
  params: Map<string, string | null>;
  /** headers after '?', unescaped, in order. */
  headers: [string, string][];
}

// RFC 3261 §25.1: unreserved = alphanum / mark
const UNRESERVED = "A-Za-z0-9\\-_.!~*'()";
// user-unreserved = "&" / "=" / "+" / "$" / "," / ";" / "?" / "/"
const USER_SAFE = new RegExp(`[^${UNRESERVED}&=+$,;?/]`, "gu");
// password = *( unreserved / escaped / "&" / "=" / "+" / "$" / "," )
const PASSWORD_SAFE = new RegExp(`[^${UNRESERVED}&=+$,]`, "gu");
// paramchar = param-unreserved / unreserved / escaped; param-unreserved = "[" / "]" / "/" / ":" / "&" / "+" / "$"
const PARAM_SAFE = new RegExp(`[^${UNRESERVED}\\[\\]/:&+$]`, "gu");
// hnv-unreserved = "[" / "]" / "/" / "?" / ":" / "+" / "$"
const HEADER_SAFE = new RegExp(`[^${UNRESERVED}\\[\\]/?:+$]`, "gu");

function escapeWith(re: RegExp, s: string): string {
  return s.replace(re, (ch) => {
    let out = "";
    for (const byte of Buffer.from(ch, "utf8")) out += "%" + byte.toString(16).toUpperCase().padStart(2, "0");
    return out;
  });
}

// RFC 3261 §19.1.2: characters outside each component's set are escaped.
export const escapeUser = (s: string): string => escapeWith(USER_SAFE, s);
export const escapePassword = (s: string): string => escapeWith(PASSWORD_SAFE, s);
export const escapeParam = (s: string): string => escapeWith(PARAM_SAFE, s);
export const escapeHeader = (s: string): string => escapeWith(HEADER_SAFE, s);

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Decode %HH escapes (RFC 3261 §25.1 escaped = "%" HEXDIG HEXDIG) as UTF-8. */
export function unescapeComponent(s: string, what: string): string {
  if (!s.includes("%")) return s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === "%") {
      const hex = s.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw new SipParseError("bad-uri", `bad escape in ${what}`);
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      for (const b of Buffer.from(ch, "utf8")) bytes.push(b);
    }
  }
  try {
    return utf8.decode(Uint8Array.from(bytes));
  } catch {
    throw new SipParseError("bad-uri", `${what} is not UTF-8 after unescaping`);
  }
}

const MAX_URI_LENGTH = 4096;
// RFC 3261 §25.1: hostname = *( domainlabel "." ) toplabel [ "." ]
const HOSTNAME = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$/;
const IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6_REF = /^\[[0-9A-Fa-f:.]{2,45}\]$/;
// Characters never allowed raw anywhere in a URI (controls included, on purpose).
// eslint-disable-next-line no-control-regex
const FORBIDDEN_RAW = /[\s<>"\\^`{|}\x00-\x1f\x7f]/;

/** Parse a sip: or sips: URI (RFC 3261 §19.1.1). Throws SipParseError. */
export function parseUri(text: string): SipUri {
  if (text.length > MAX_URI_LENGTH) throw new SipParseError("bad-uri", "URI too long");
  const colon = text.indexOf(":");
  const scheme = text.slice(0, Math.max(colon, 0)).toLowerCase();
  if (scheme !== "sip" && scheme !== "sips") throw new SipParseError("bad-uri", `not a sip/sips URI: ${text.slice(0, 40)}`);
  let rest = text.slice(colon + 1);
  if (FORBIDDEN_RAW.test(rest)) throw new SipParseError("bad-uri", "URI holds a character that must be escaped");

  let user: string | undefined;
  let password: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    if (rest.indexOf("@", at + 1) >= 0) throw new SipParseError("bad-uri", "more than one '@' in URI");
    const userinfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const pw = userinfo.indexOf(":");
    const rawUser = pw >= 0 ? userinfo.slice(0, pw) : userinfo;
    if (rawUser.length === 0) throw new SipParseError("bad-uri", "empty user part before '@'");
    user = unescapeComponent(rawUser, "user");
    if (pw >= 0) password = unescapeComponent(userinfo.slice(pw + 1), "password");
  }

  let headersPart: string | undefined;
  const q = rest.indexOf("?");
  if (q >= 0) {
    headersPart = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  const [hostport = "", ...paramParts] = rest.split(";");
  const { host, port } = parseHostPort(hostport);

  const params = new Map<string, string | null>();
  for (const part of paramParts) {
    if (part.length === 0) throw new SipParseError("bad-uri", "empty URI parameter");
    const eq = part.indexOf("=");
    const name = unescapeComponent(eq >= 0 ? part.slice(0, eq) : part, "parameter").toLowerCase();
    if (name.length === 0) throw new SipParseError("bad-uri", "URI parameter without a name");
    if (params.has(name)) throw new SipParseError("bad-uri", `URI parameter ${name} repeated`);
    params.set(name, eq >= 0 ? unescapeComponent(part.slice(eq + 1), "parameter") : null);
  }
  const headers: [string, string][] = [];
  if (headersPart !== undefined) {
    for (const part of headersPart.split("&")) {
      const eq = part.indexOf("=");
      if (eq <= 0) throw new SipParseError("bad-uri", "URI header without '='");
      headers.push([unescapeComponent(part.slice(0, eq), "header"), unescapeComponent(part.slice(eq + 1), "header")]);
    }
  }
  const uri: SipUri = { scheme, host, params, headers };
  if (user !== undefined) uri.user = user;
  if (password !== undefined) uri.password = password;
  if (port !== undefined) uri.port = port;
  return uri;
}

// RFC 3261 §25.1: hostport = host [ ":" port ]
export function parseHostPort(text: string): { host: string; port?: number } {
  let host: string;
  let portText: string | undefined;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0) throw new SipParseError("bad-uri", "unterminated IPv6 reference");
    host = text.slice(0, close + 1);
    const after = text.slice(close + 1);
    if (after.length > 0) {
      if (!after.startsWith(":")) throw new SipParseError("bad-uri", "junk after IPv6 reference");
      portText = after.slice(1);
    }
    if (!IPV6_REF.test(host)) throw new SipParseError("bad-uri", `bad IPv6 reference ${host}`);
  } else {
    const c = text.indexOf(":");
    host = c >= 0 ? text.slice(0, c) : text;
    if (c >= 0) portText = text.slice(c + 1);
    if (!IPV4.test(host) && !HOSTNAME.test(host)) throw new SipParseError("bad-uri", `bad host ${JSON.stringify(host.slice(0, 80))}`);
  }
  const out: { host: string; port?: number } = { host: host.toLowerCase() };
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) throw new SipParseError("bad-uri", `bad port ${portText.slice(0, 10)}`);
    out.port = Number(portText);
  }
  return out;
}

/** Format a URI (RFC 3261 §19.1.1), escaping each component. */
export function formatUri(uri: SipUri): string {
  let s = `${uri.scheme}:`;
  if (uri.user !== undefined) {
    s += escapeUser(uri.user);
    if (uri.password !== undefined) s += ":" + escapePassword(uri.password);
    s += "@";
  }
  s += uri.host;
  if (uri.port !== undefined) s += `:${uri.port}`;
  for (const [name, value] of uri.params) s += ";" + escapeParam(name) + (value === null ? "" : "=" + escapeParam(value));
  if (uri.headers.length > 0) s += "?" + uri.headers.map(([n, v]) => `${escapeHeader(n)}=${escapeHeader(v)}`).join("&");
  return s;
}

/** Build a URI from parts. */
export function sipUri(parts: { scheme?: "sip" | "sips"; user?: string; host: string; port?: number; params?: Record<string, string | null> }): SipUri {
  const uri: SipUri = { scheme: parts.scheme ?? "sip", host: parts.host.toLowerCase(), params: new Map(), headers: [] };
  if (parts.user !== undefined) uri.user = parts.user;
  if (parts.port !== undefined) uri.port = parts.port;
  if (parts.params) for (const [k, v] of Object.entries(parts.params)) uri.params.set(k.toLowerCase(), v);
  return uri;
}
