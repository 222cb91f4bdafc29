/**
 * Addresses across the gateway (RFC 7247 §5): a JID becomes a SIP URI and back. The XMPP localpart
 * is XEP-0106-unescaped and then %-encoded where the SIP user part cannot hold a character; the
 * domain is in A-labels (IDNA ToASCII, done by Jid); a resource rides in the GRUU "gr" parameter
 * (RFC 5627 §3.1). Our XMPP domains map to their internal SIP domains (the same by default).
 *
 * Checked: the localpart handling against XEP-0106 v1.1 itself (§3 tables, §4.2 algorithm, §5.1 and
 * §5.3 examples; golden tests), with one deliberate divergence (every backslash from SIP is escaped,
 * see the tests). NOT verified: the RFC 7247 §5 rules themselves (only the RFC's opening pages were
 * reachable), i.e. that §5 asks for XEP-0106, the resource ↔ "gr" rule and the section numbers.
 */
import { Jid, JidError, escapeLocal, unescapeLocal } from "@passerelle/xmpp";
import { SipParseError, formatUri, parseUri, type SipUri } from "@passerelle/sip";

/** A JID or SIP URI that cannot be mapped; answered with <jid-malformed/>. */
export class AddressMappingError extends Error {
  override name = "AddressMappingError";
  readonly condition = "jid-malformed" as const;
}

export interface DomainPair {
  xmpp: string;
  sip: string;
}

export class AddressMapper {
  private readonly toSip = new Map<string, string>();
  private readonly toXmpp = new Map<string, string>();

  constructor(domains: readonly DomainPair[] = []) {
    for (const d of domains) {
      this.toSip.set(d.xmpp.toLowerCase(), d.sip.toLowerCase());
      this.toXmpp.set(d.sip.toLowerCase(), d.xmpp.toLowerCase());
    }
  }

  /** The SIP domain of an XMPP domain: its configured internal domain for ours, itself otherwise. */
  sipDomainOf(xmppDomain: string): string {
    return this.toSip.get(xmppDomain.toLowerCase()) ?? xmppDomain.toLowerCase();
  }

  xmppDomainOf(sipDomain: string): string {
    return this.toXmpp.get(sipDomain.toLowerCase()) ?? sipDomain.toLowerCase();
  }

  /**
   * RFC 7247 §5.2 (XMPP to SIP): xmpp:local@domain/resource → sip:user@domain;gr=resource.
   * `sipDomain` overrides the domain mapping (policy may already know it).
   */
  jidToSipUri(input: string | Jid, options: { sipDomain?: string; withResource?: boolean } = {}): SipUri {
    let jid: Jid;
    try {
      jid = typeof input === "string" ? Jid.parse(input) : input;
    } catch (err) {
      throw new AddressMappingError(`not a JID: ${(err as Error).message}`);
    }
    if (jid.local === undefined) throw new AddressMappingError("a JID without localpart has no SIP user");
    const domain = options.sipDomain?.toLowerCase() ?? this.sipDomainOf(jid.domain);
    // RFC 7247 §5.2: XEP-0106 escapes are undone; characters the SIP user part cannot hold are %-encoded when formatted.
    const uri: SipUri = { scheme: "sip", user: unescapeLocal(jid.local), host: domain, params: new Map(), headers: [] };
    // RFC 7247 §5.2 / RFC 5627 §3.1: the resource becomes the GRUU's "gr" parameter.
    if (options.withResource !== false && jid.resource !== undefined) uri.params.set("gr", jid.resource);
    try {
      // Check the result is a URI we would accept back (e.g. the host is a valid SIP host).
      parseUri(formatUri(uri));
    } catch (err) {
      throw new AddressMappingError(`JID ${jid.toString()} has no SIP form: ${(err as Error).message}`);
    }
    return uri;
  }

  jidToSipUriString(input: string | Jid, options: { sipDomain?: string; withResource?: boolean } = {}): string {
    return formatUri(this.jidToSipUri(input, options));
  }

  /** RFC 7247 §5.3 (SIP to XMPP): sip:user@domain;gr=x → user(XEP-0106 escaped)@domain/x. */
  sipUriToJid(input: string | SipUri): Jid {
    let uri: SipUri;
    try {
      uri = typeof input === "string" ? parseUri(input) : input;
    } catch (err) {
      throw new AddressMappingError(err instanceof SipParseError ? err.message : String(err));
    }
    if (uri.user === undefined || uri.user.length === 0) throw new AddressMappingError("a SIP URI without user part has no JID");
    if (uri.host.startsWith("[") || /^\d+\.\d+\.\d+\.\d+$/.test(uri.host)) {
      throw new AddressMappingError("a SIP URI with an IP address host has no JID domain");
    }
    const gr = uri.params.get("gr");
    try {
      return new Jid(escapeLocal(uri.user), this.xmppDomainOf(uri.host.replace(/\.$/, "")), typeof gr === "string" && gr.length > 0 ? gr : undefined);
    } catch (err) {
      throw new AddressMappingError(err instanceof JidError ? err.message : String(err));
    }
  }
}
