/**
 * The catalogue of NATS subjects. Every subject a service publishes or consumes is named here,
 * with its payload type in `payloads.ts`. Subjects carry their contract version (`v1`); a
 * breaking payload change gets a new subject so old and new replicas can run side by side
 * during a rolling upgrade.
 */

/** JetStream stream holding stanzas accepted by an edge listener until policy has handled them. */
export const INBOUND_STREAM = "PASSERELLE_INBOUND";

export const subjects = {
  /**
   * edge-listener → policy, JetStream (stream INBOUND_STREAM, work queue).
   * One accepted inbound stanza. Suffix: the authenticated partner domain.
   * Payload: InboundStanza. Message id (Nats-Msg-Id) = InboundStanza.id, for de-duplication.
   */
  inboundStanza: (partnerDomain: string) => `passerelle.v1.inbound.${tokenOf(partnerDomain)}`,
  inboundStanzaAll: "passerelle.v1.inbound.>",

  /**
   * policy → sip-translator, core NATS request/reply, queue group "sip-translator".
   * Payload: SipDeliveryRequest; reply: SipDeliveryResult.
   */
  sipDeliver: "passerelle.v1.sip.deliver",

  /**
   * any service → edge-listener, core NATS, queue group "edge-listener": one stanza to send to an
   * XMPP server (an error bounce, a reply, an outbound message). Payload: OutboundStanza.
   */
  outboundStanza: "passerelle.v1.outbound.stanza",

  /**
   * sip-translator → policy, request/reply, queue group "policy": may this internal user send this
   * stanza to that XMPP address (the user's XMPP access, the recipient's partner)? An allowed
   * message also adds the recipient to the sender's allow-list. Payload: OutboundAuthorizeRequest;
   * reply: OutboundAuthorizeReply.
   */
  outboundAuthorize: "passerelle.v1.outbound.authorize",

  /**
   * sip-translator → policy, request/reply, queue group "policy": has this internal user authorised
   * this XMPP contact, and of which partner type is it? Read only (held presence subscriptions are
   * released with it). Payload: ContactStatusRequest; reply: ContactStatusReply.
   */
  contactStatus: "passerelle.v1.policy.contact-status",

  /**
   * sip-translator → edge-listener, request/reply, queue group "edge-listener": send this stanza
   * and say whether it was written to an authenticated stream, or why not (the link could not be
   * set up within the stream establishment timeout). Payload: OutboundStanza; reply:
   * OutboundDeliverReply. Requests to one remote domain leave in the order a replica received them.
   */
  outboundDeliver: "passerelle.v1.outbound.deliver",

  /**
   * edge-listener → dialback-authority, request/reply, queue group "dialback-authority".
   * Make a dialback key (XEP-0185) for a stream we originate. Payload: DialbackKeyRequest;
   * reply: DialbackKeyReply.
   */
  dialbackKey: "passerelle.v1.dialback.key",

  /**
   * edge-listener → dialback-authority, request/reply: a partner sent us `db:verify` (we are the
   * authoritative server); is the key one we made? Payload: DialbackVerifyRequest; reply:
   * DialbackVerdict.
   */
  dialbackVerify: "passerelle.v1.dialback.verify",

  /**
   * edge-listener → dialback-authority, request/reply: a partner sent us `db:result` (we are the
   * receiving server); dial back to the partner's authoritative server and check the key.
   * Payload: DialbackAuthorizeRequest; reply: DialbackVerdict.
   */
  dialbackAuthorize: "passerelle.v1.dialback.authorize",

  /**
   * any → dns-registrar, request/reply, queue group "dns-registrar": where does this XMPP
   * domain's s2s service live? Payload: ResolveRequest; reply: ResolveReply.
   */
  dnsResolve: "passerelle.v1.dns.resolve",

  /**
   * policy publishes when a partner or an internal user's allow-list changes; every replica of
   * every service listens and drops its caches. Payload: ConfigChanged.
   */
  configChanged: "passerelle.v1.config.changed",

  /**
   * any → policy, request/reply, queue group "policy": the partner store's current entries and
   * live settings (runtime's LivePartners loads it at start and on each partner/settings change).
   * Payload: PartnersSnapshotRequest; reply: PartnersSnapshotReply.
   */
  partnersSnapshot: "passerelle.v1.partners.snapshot",
} as const;

/** Queue group names: one replica of a service takes each request. */
export const queues = {
  policy: "policy",
  sipTranslator: "sip-translator",
  edgeListener: "edge-listener",
  dialbackAuthority: "dialback-authority",
  dnsRegistrar: "dns-registrar",
} as const;

/** A domain as one subject token: NATS tokens cannot hold '.', so dots become '_'. */
export function tokenOf(domain: string): string {
  return domain.toLowerCase().replace(/[.*>\s]/g, "_");
}
