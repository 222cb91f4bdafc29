/**
 * Payloads of the subjects in `subjects.ts`. Every payload carries `v`, its contract version.
 * JIDs travel as strings (RFC 7622 form); stanzas as serialized XML (`xml`), so a hop that does
 * not care about a stanza's content never parses it.
 */

export type StanzaKind = "message" | "presence" | "iq";

/** edge-listener → policy: a stanza accepted on an authenticated inbound stream. */
export interface InboundStanza {
  v: 1;
  /** Unique per accepted stanza (edge replica id + stream id + sequence); the de-duplication key. */
  id: string;
  /** Milliseconds since the epoch when the edge accepted it. */
  receivedAt: number;
  /** The edge replica that accepted it, and the stream it came on. */
  edge: string;
  streamId: string;
  /** The domain the stream authenticated as (already checked against the stanza's `from`). */
  partnerDomain: string;
  /** Our domain the stanza is addressed to. */
  localDomain: string;
  kind: StanzaKind;
  /** The stanza's `type` attribute, if any. */
  type?: string;
  from: string;
  to: string;
  xml: string;
}

/** policy → sip-translator: deliver an authorised stanza to the SIP side. */
export interface SipDeliveryRequest {
  v: 1;
  id: string;
  kind: StanzaKind;
  type?: string;
  from: string;
  to: string;
  /** The internal SIP domain that `to`'s XMPP domain maps to. */
  sipDomain: string;
  /** JetStream delivered this stanza before: the translator checks whether it already sent it. */
  redelivered?: boolean;
  xml: string;
  /** Presence: the sender's partner type (the translator applies the presence rules of MISSION §1). */
  partnerType?: PartnerKind;
  /** Presence: the internal recipient has authorised the sender (allow-list or contact list). */
  contactAuthorised?: boolean;
}

/** The partner types (MISSION §1), as they travel on the bus. */
export type PartnerKind = "federated" | "public-verified" | "public-unverified";

/** An XMPP stanza error (RFC 6120 §8.3). */
export interface StanzaErrorInfo {
  type: "auth" | "cancel" | "continue" | "modify" | "wait";
  condition: string;
  text?: string;
}

/** sip-translator → policy: what became of a delivery. */
export interface SipDeliveryResult {
  v: 1;
  id: string;
  /** delivered: the SIP side accepted it (2xx); failed: it did not, `error` says why; ignored: nothing to send (e.g. an empty message). */
  outcome: "delivered" | "failed" | "ignored";
  sipStatus?: number;
  sipReason?: string;
  /** For `failed`: the XMPP error to return to the sender (RFC 7247 §8 mapping). */
  error?: StanzaErrorInfo;
}

/** any → edge-listener: send this stanza to a remote XMPP domain. */
export interface OutboundStanza {
  v: 1;
  id: string;
  localDomain: string;
  remoteDomain: string;
  /** The stanza's `type` ("error" stanzas are never bounced when they cannot be sent). */
  type?: string;
  xml: string;
}

/** sip-translator → policy: may an internal user send this stanza to an XMPP address? */
export interface OutboundAuthorizeRequest {
  v: 1;
  /** The stanza id, for logs and traces. */
  id: string;
  kind: StanzaKind;
  type?: string;
  /** The internal sender (bare or full JID at one of our domains). */
  from: string;
  /** The XMPP recipient. */
  to: string;
}

export interface OutboundAuthorizeReply {
  v: 1;
  allowed: boolean;
  /** For an allowed stanza: the recipient's partner type (presence applies its rules). */
  partnerType?: PartnerKind;
  /** For a refusal: the XMPP error the SIP side maps to a response code (RFC 7247 §8). */
  error?: StanzaErrorInfo;
}

/** sip-translator → policy: has an internal user authorised an XMPP contact (allow-list), and what partner is it? */
export interface ContactStatusRequest {
  v: 1;
  /** The internal user's bare JID. */
  user: string;
  /** The contact's bare JID. */
  contact: string;
}

export interface ContactStatusReply {
  v: 1;
  authorised: boolean;
  xmppAccess: boolean;
  /** Undefined when the contact's domain is not a partner. */
  partnerType?: PartnerKind;
}

/** edge-listener → sip-translator: what became of an `outboundDeliver` request. */
export interface OutboundDeliverReply {
  v: 1;
  id: string;
  /** sent: written to an authenticated stream; failed: not sent, `error` says why. */
  outcome: "sent" | "failed";
  error?: StanzaErrorInfo;
}

/** edge-listener → dialback-authority: make the key for a stream we originate (XEP-0185). */
export interface DialbackKeyRequest {
  v: 1;
  receiving: string;
  originating: string;
  streamId: string;
}
export interface DialbackKeyReply {
  v: 1;
  key: string;
}

/** edge-listener → dialback-authority: a partner's `db:verify` to us as authoritative server. */
export interface DialbackVerifyRequest {
  v: 1;
  /** The receiving server (the partner asking: the `from` of its db:verify). */
  receiving: string;
  /** The originating domain (ours: the `to` of its db:verify). */
  originating: string;
  streamId: string;
  key: string;
}

/** edge-listener → dialback-authority: a partner's `db:result` to us as receiving server. */
export interface DialbackAuthorizeRequest {
  v: 1;
  /** Our domain (the `to` of the db:result). */
  receiving: string;
  /** The partner's domain being authenticated (the `from` of the db:result). */
  originating: string;
  /** The stream id we gave the partner's inbound stream. */
  streamId: string;
  key: string;
}

export interface DialbackVerdict {
  v: 1;
  valid: boolean;
  /** Why the verdict is not `valid`, for logs and the admin. */
  reason?: string;
}

/** any → dns-registrar: where do a domain's s2s services live? */
export interface ResolveRequest {
  v: 1;
  domain: string;
}

export interface ResolvedTarget {
  host: string;
  port: number;
  /** true for XEP-0368 `_xmpps-server._tcp` targets: TLS from the first byte. */
  directTls: boolean;
  priority: number;
  weight: number;
}

export interface ResolveReply {
  v: 1;
  /** In the order to try them (RFC 2782 priority, then weight). Empty when nothing resolves. */
  targets: ResolvedTarget[];
  /** Set when the lookup failed (not when the domain simply has no records). */
  error?: string;
}

/** policy → everyone: configuration changed; drop caches for it. */
export interface ConfigChanged {
  v: 1;
  /** "partner": key is the partner's primary domain ("*" after an import); "settings": key is the setting's name. */
  kind: "partner" | "allowlist" | "user" | "settings";
  key: string;
  /** The partner store's revision after the change (partner and settings changes). */
  revision?: number;
}

/** One partner entry as stored by policy (packages/config partnerSchema's output, without derived fields). */
export interface PartnerEntryPayload {
  domain: string;
  description: string;
  additionalDomains: string[];
  type: "federated" | "public-verified" | "public-unverified";
  tls: "required" | "optional" | "not-supported";
  sasl: "required" | "optional" | "not-supported";
  dialback: boolean;
  connectionLimit: number;
  keepalive: boolean;
  proxyFqdn?: string;
  proxyPort: number;
}

/** any → policy: the current partner entries and live settings. */
export interface PartnersSnapshotRequest {
  v: 1;
}

export interface PartnersSnapshotReply {
  v: 1;
  /** Increases with every change of the partner store (partners or settings). */
  revision: number;
  partners: PartnerEntryPayload[];
  settings: { xmppAccessDefault: boolean };
}
