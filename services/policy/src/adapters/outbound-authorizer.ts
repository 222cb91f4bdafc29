/**
 * Answers `passerelle.v1.outbound.authorize` (queue group "policy"): may an internal user send this
 * stanza to an XMPP address? Looks up the facts (the user's XMPP access in the UserStore, the
 * recipient's partner entry), decides (domain/outbound.ts), and records the recipient in the
 * sender's allow-list when the message is allowed (an internal user adding an XMPP contact
 * authorises it, MISSION.md section 1).
 */
import type { PartnerDirectory } from "@passerelle/config";
import {
  queues,
  subjects,
  type ConfigChanged,
  type ContactStatusReply,
  type ContactStatusRequest,
  type OutboundAuthorizeReply,
  type OutboundAuthorizeRequest,
} from "@passerelle/contracts";
import type { Bus } from "@passerelle/runtime";
import { Counter, type Logger, type Registry } from "@passerelle/telemetry";
import { Jid } from "@passerelle/xmpp";
import { decideOutbound } from "../domain/outbound.ts";
import type { UserStore } from "./user-store.ts";

export const AUTHORIZE_REQUIRED = ["id", "kind", "from", "to"] as const satisfies readonly (keyof OutboundAuthorizeRequest)[];
export const CONTACT_STATUS_REQUIRED = ["user", "contact"] as const satisfies readonly (keyof ContactStatusRequest)[];
/** Longest JID we look at (RFC 7622 §3.1: each part ≤ 1023 octets). */
const MAX_JID = 3071;

export interface OutboundAuthorizerOptions {
  bus: Bus;
  store: UserStore;
  partners: () => PartnerDirectory;
  localDomains: ReadonlySet<string>;
  log: Logger;
  metrics: Registry;
}

export class OutboundAuthorizer {
  private readonly decisions: Counter<"decision" | "condition">;

  constructor(private readonly o: OutboundAuthorizerOptions) {
    this.decisions = new Counter({
      name: "passerelle_policy_outbound_decisions_total",
      help: "Outbound (SIP → XMPP) authorisations by decision and refusal condition",
      labelNames: ["decision", "condition"],
      registers: [o.metrics],
    });
  }

  serve(): { drain(): Promise<void> } {
    const authorize = this.o.bus.reply<OutboundAuthorizeRequest, OutboundAuthorizeReply>(subjects.outboundAuthorize, queues.policy, AUTHORIZE_REQUIRED, (request) => this.authorize(request));
    const status = this.o.bus.reply<ContactStatusRequest, ContactStatusReply>(subjects.contactStatus, queues.policy, CONTACT_STATUS_REQUIRED, (request) => this.contactStatus(request));
    return { drain: async () => void (await Promise.all([authorize.drain(), status.drain()])) };
  }

  /** Read only: whether the user has authorised the contact (allow-list) and the contact's partner type. */
  async contactStatus(request: ContactStatusRequest): Promise<ContactStatusReply> {
    let user: Jid;
    let contact: Jid;
    try {
      if (typeof request.user !== "string" || typeof request.contact !== "string" || request.user.length > MAX_JID || request.contact.length > MAX_JID) throw new Error("bad JIDs");
      user = Jid.parse(request.user).bare();
      contact = Jid.parse(request.contact).bare();
    } catch {
      return { v: 1, authorised: false, xmppAccess: false };
    }
    const facts = await this.o.store.factsFor(user.toString(), contact.toString());
    const partnerType = this.o.partners().find(contact.domain)?.type;
    return { v: 1, authorised: facts.allowed, xmppAccess: facts.xmppAccess, ...(partnerType === undefined ? {} : { partnerType }) };
  }

  /** Never rejects on bad input: a malformed request is refused with bad-request / jid-malformed. */
  async authorize(request: OutboundAuthorizeRequest): Promise<OutboundAuthorizeReply> {
    if (typeof request.from !== "string" || typeof request.to !== "string" || request.from.length > MAX_JID || request.to.length > MAX_JID) {
      return this.refused(request, { type: "modify", condition: "jid-malformed", text: "from and to must be JIDs of at most 3071 characters" });
    }
    let sender: Jid;
    let recipient: Jid;
    try {
      sender = Jid.parse(request.from).bare();
      recipient = Jid.parse(request.to).bare();
    } catch (err) {
      return this.refused(request, { type: "modify", condition: "jid-malformed", text: (err as Error).message.slice(0, 200) });
    }
    const senderIsLocal = this.o.localDomains.has(sender.domain) && sender.local !== undefined;
    const user = sender.toString();
    const contact = recipient.toString();
    const decision = decideOutbound({
      kind: request.kind,
      type: request.type,
      senderIsLocal,
      recipientIsLocal: this.o.localDomains.has(recipient.domain),
      // Only ask about users of ours (cached: UserStore.factsFor).
      senderHasXmppAccess: senderIsLocal ? (await this.o.store.factsFor(user, contact)).xmppAccess : false,
      partnerType: this.o.partners().find(recipient.domain)?.type,
    });
    if (decision.action === "refuse") return this.refused(request, decision.error);
    // MISSION §1: an internal user subscribing to (or approving) an XMPP contact adds it, which authorises it.
    const adds = decision.allowContact || (request.kind === "presence" && (request.type === "subscribe" || request.type === "subscribed"));
    if (adds && recipient.local !== undefined && (await this.o.store.allow(user, contact))) {
      this.o.log.info({ user, contact, kind: request.kind }, "contact allowed: the internal user wrote or subscribed to it");
      this.o.bus.publish<ConfigChanged>(subjects.configChanged, { v: 1, kind: "allowlist", key: user });
    }
    this.decisions.inc({ decision: "allow", condition: "none" });
    const partnerType = this.o.partners().find(recipient.domain)?.type;
    return { v: 1, allowed: true, ...(partnerType === undefined ? {} : { partnerType }) };
  }

  private refused(request: OutboundAuthorizeRequest, error: NonNullable<OutboundAuthorizeReply["error"]>): OutboundAuthorizeReply {
    this.decisions.inc({ decision: "refuse", condition: error.condition });
    this.o.log.info({ id: request.id, from: String(request.from).slice(0, 200), to: String(request.to).slice(0, 200), condition: error.condition }, "outbound stanza refused");
    return { v: 1, allowed: false, error };
  }
}
