/**
 * Does a server's certificate prove it is an XMPP domain? RFC 9525 service identity checks with
 * the XMPP reference identifiers of RFC 6120 §13.7.2.1: DNS-ID, SRV-ID `_xmpp-server.<domain>`
 * (RFC 4985) and id-on-xmppAddr. The subject's common name is never used (RFC 9525 §6.3, no CN-ID).
 * The certificate is untrusted input: the DER is walked with bounds and any oddity means no match.
 */
import type { X509Certificate } from "node:crypto";
import type { PeerCertificate } from "node:tls";
import { domainToASCII } from "node:url";
import { DerError, children, oidToString, readNode } from "./der.ts";

/** id-on-xmppAddr, RFC 6120 §13.7.1.4. */
export const OID_XMPP_ADDR = "1.3.6.1.5.5.7.8.5";
/** id-on-dnsSRV (SRVName), RFC 4985 §2. */
export const OID_SRV_NAME = "1.3.6.1.5.5.7.8.7";
/** id-ce-subjectAltName, RFC 5280 §4.2.1.6. */
const OID_SUBJECT_ALT_NAME = "2.5.29.17";

const MAX_CERTIFICATE_BYTES = 64 * 1024;
const MAX_EXTENSIONS = 64;
const MAX_NAMES = 512;
const MAX_NAME_BYTES = 1023;

/** The identifiers a certificate presents, as found in its subjectAltName. */
export interface PresentedIdentifiers {
  dnsNames: string[];
  srvNames: string[];
  xmppAddrs: string[];
}

export class CertificateIdentityError extends Error {
  override name = "CertificateIdentityError";
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function ia5(content: Uint8Array): string {
  if (content.length > MAX_NAME_BYTES) throw new CertificateIdentityError("a subjectAltName entry is too long");
  for (const byte of content) {
    if (byte >= 0x80) throw new CertificateIdentityError("an IA5String holds a non-ASCII byte");
  }
  return String.fromCharCode(...content);
}

function utf8String(content: Uint8Array): string {
  if (content.length > MAX_NAME_BYTES) throw new CertificateIdentityError("a subjectAltName entry is too long");
  try {
    return utf8.decode(content);
  } catch {
    throw new CertificateIdentityError("a UTF8String is not valid UTF-8");
  }
}

/** RFC 5280 §4.2.1.6: the subjectAltName entries we care about, from a DER certificate. */
export function presentedIdentifiers(der: Uint8Array): PresentedIdentifiers {
  const found: PresentedIdentifiers = { dnsNames: [], srvNames: [], xmppAddrs: [] };
  if (der.length > MAX_CERTIFICATE_BYTES) throw new CertificateIdentityError("certificate too large");
  try {
    const certificate = readNode(der, 0);
    if (certificate.tag !== 0x30) throw new CertificateIdentityError("not a certificate");
    const tbs = children(certificate, 3)[0];
    if (tbs === undefined || tbs.tag !== 0x30) throw new CertificateIdentityError("no TBSCertificate");
    // RFC 5280 §4.1: extensions are the [3] EXPLICIT field of the TBSCertificate.
    const extensionsField = children(tbs, 12).find((node) => node.tag === 0xa3);
    if (extensionsField === undefined) return found;
    const extensionList = children(extensionsField, 1)[0];
    if (extensionList === undefined || extensionList.tag !== 0x30) throw new CertificateIdentityError("bad extensions");
    for (const extension of children(extensionList, MAX_EXTENSIONS)) {
      const parts = children(extension, 3);
      const oid = parts[0];
      const value = parts[parts.length - 1];
      if (oid?.tag !== 0x06 || value?.tag !== 0x04) throw new CertificateIdentityError("bad extension");
      if (oidToString(oid.content) !== OID_SUBJECT_ALT_NAME) continue;
      const names = readNode(value.content, 0);
      if (names.tag !== 0x30) throw new CertificateIdentityError("bad subjectAltName");
      for (const name of children(names, MAX_NAMES)) collectName(name, found);
    }
    return found;
  } catch (err) {
    if (err instanceof DerError) throw new CertificateIdentityError(`malformed certificate: ${err.message}`);
    throw err;
  }
}

function collectName(name: ReturnType<typeof readNode>, found: PresentedIdentifiers): void {
  // GeneralName ::= CHOICE { otherName [0], rfc822Name [1], dNSName [2], ... } (RFC 5280 §4.2.1.6)
  if (name.tag === 0x82) {
    found.dnsNames.push(ia5(name.content));
    return;
  }
  if (name.tag !== 0xa0) return;
  // OtherName ::= SEQUENCE { type-id OBJECT IDENTIFIER, value [0] EXPLICIT ANY }
  const [typeId, explicit] = children(name, 2);
  if (typeId?.tag !== 0x06 || explicit?.tag !== 0xa0) return;
  const inner = children(explicit, 1)[0];
  if (inner === undefined) return;
  const type = oidToString(typeId.content);
  // RFC 6120 §13.7.1.4: XmppAddr ::= UTF8String
  if (type === OID_XMPP_ADDR && inner.tag === 0x0c) found.xmppAddrs.push(utf8String(inner.content));
  // RFC 4985 §2: SRVName ::= IA5String
  else if (type === OID_SRV_NAME && inner.tag === 0x16) found.srvNames.push(ia5(inner.content));
}

/** A domain in the form we compare: A-labels, lower case, no trailing dot; undefined if invalid. */
export function normalizeDomain(domain: string): string | undefined {
  const trimmed = domain.endsWith(".") ? domain.slice(0, -1) : domain;
  if (trimmed.length === 0 || trimmed.length > 253 || /[\s@/*]/.test(trimmed)) return undefined;
  const ascii = domainToASCII(trimmed);
  if (ascii === "" || ascii.split(".").some((label) => label.length === 0 || label.length > 63)) return undefined;
  return ascii.toLowerCase();
}

// RFC 9525 §6.3: a wildcard is the whole left-most label and matches exactly one label.
function dnsIdMatches(presented: string, reference: string): boolean {
  const lower = presented.toLowerCase().replace(/\.$/, "");
  if (lower.startsWith("*.")) {
    const rest = normalizeDomain(lower.slice(2));
    // At least two labels after the wildcard: "*.com" would cover a whole top-level domain.
    if (rest === undefined || !rest.includes(".")) return false;
    const dot = reference.indexOf(".");
    return dot > 0 && reference.slice(dot + 1) === rest;
  }
  return normalizeDomain(lower) === reference;
}

// RFC 9525 §6.5 / RFC 6120 §13.7.2.1: SRV-ID `_xmpp-server.<domain>`, no wildcards.
function srvIdMatches(presented: string, reference: string): boolean {
  const prefix = "_xmpp-server.";
  if (!presented.toLowerCase().startsWith(prefix)) return false;
  return normalizeDomain(presented.slice(prefix.length)) === reference;
}

// RFC 6120 §13.7.1.4: an xmppAddr naming the bare domain (may be U-labels), no wildcards.
function xmppAddrMatches(presented: string, reference: string): boolean {
  return normalizeDomain(presented) === reference;
}

/** What identifiers a certificate presents (for error messages); empty lists if unreadable. */
export function describeCertificateIdentities(cert: X509Certificate | PeerCertificate): string {
  try {
    const ids = presentedIdentifiers(cert.raw);
    const all = [...ids.dnsNames.map((n) => `DNS:${n}`), ...ids.srvNames.map((n) => `SRV:${n}`), ...ids.xmppAddrs.map((n) => `xmppAddr:${n}`)];
    return all.length === 0 ? "no subjectAltName identifiers" : all.slice(0, 10).join(", ") + (all.length > 10 ? ", …" : "");
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * Whether `cert` identifies the XMPP server of `domain` (RFC 9525 §6 with RFC 6120 §13.7.2.1):
 * a DNS-ID, an SRV-ID for `_xmpp-server` or an xmppAddr equal to the domain. Never the CN.
 * Returns false (never throws) for a malformed certificate or an invalid domain.
 */
export function certificateMatchesDomain(cert: X509Certificate | PeerCertificate, domain: string): boolean {
  const reference = normalizeDomain(domain);
  if (reference === undefined) return false;
  let ids: PresentedIdentifiers;
  try {
    ids = presentedIdentifiers(cert.raw);
  } catch {
    return false;
  }
  return (
    ids.dnsNames.some((n) => dnsIdMatches(n, reference)) ||
    ids.srvNames.some((n) => srvIdMatches(n, reference)) ||
    ids.xmppAddrs.some((n) => xmppAddrMatches(n, reference))
  );
}
