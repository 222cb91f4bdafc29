/**
 * Handles one accepted inbound stanza: looks up the facts, decides (domain/decide.ts), and then
 * delivers it through the SIP translator or bounces it to its sender as an error stanza
 * (RFC 6120 §8.3). Never drops a message silently: what is not delivered is bounced or, for
 * errors and results, counted and logged.
 */
import type { PartnerDirectory } from "@passerelle/config";
import {
  subjects,
  type InboundStanza,
  type OutboundStanza,
  type SipDeliveryRequest,
  type SipDeliveryResult,
  type StanzaErrorInfo,
} from "@passerelle/contracts";
import type { Bus } from "@passerelle/runtime";
import { Counter, type Logger, type Registry } from "@passerelle/telemetry";
import { Jid, serialize, stanzaErrorReply, type Element } from "@passerelle/xmpp";
import { decide } from "../domain/decide.ts";
import { parseStanza } from "./parse-stanza.ts";
import type { UserStore } from "./user-store.ts";

export interface InboundHandlerOptions {
  bus: Bus;
  store: UserStore;
  partners: () => PartnerDirectory;
  /** XMPP local domain → internal SIP domain. */
  sipDomains: ReadonlyMap<string, string>;
  /** How long to wait for the translator's answer (its SIP timeout plus a margin). */
  sipTimeoutMs: number;
  log: Logger;
  metrics: Registry;
}

/** done: acknowledge; retry: leave it for redelivery (the translator did not answer). */
export type Outcome = "done" | "retry";

export class InboundHandler {
  private readonly decisions: Counter<"kind" | "decision">;

  constructor(private readonly o: InboundHandlerOptions) {
    this.decisions = new Counter({
      name: "passerelle_policy_decisions_total",
      help: "Inbound stanzas by kind and what policy did with them",
      labelNames: ["kind", "decision"],
      registers: [o.metrics],
    });
  }

  async handle(stanza: InboundStanza, lastAttempt: boolean, redelivered = false): Promise<Outcome> {
    let recipient: string;
    let sender: string;
    try {
      recipient = Jid.parse(stanza.to).bare().toString();
      sender = Jid.parse(stanza.from).bare().toString();
    } catch (err) {
      // The edge checked both; a bad one here is a contract bug, not the sender's fault.
      this.o.log.error({ err, id: stanza.id }, "inbound stanza with an unparsable address");
      this.decisions.inc({ kind: stanza.kind, decision: "invalid" });
      return "done";
    }
    const partner = this.o.partners().find(stanza.partnerDomain);
    if (stanza.kind === "presence" && partner !== undefined && stanza.type !== "error") {
      // Presence (RFC 8048, MISSION §1): the translator applies the partner type's rules; it needs the type and the user's authorisation.
      const facts = await this.o.store.factsFor(recipient, sender);
      if (!facts.xmppAccess) {
        // RFC 6121 §4.3 / §3.1.3: a user who may not be reached looks like one who does not exist; nothing leaks.
        this.decisions.inc({ kind: stanza.kind, decision: "drop" });
        this.o.log.info({ id: stanza.id, from: sender, to: recipient, type: stanza.type }, "presence to a user without XMPP access dropped");
        return "done";
      }
      this.decisions.inc({ kind: stanza.kind, decision: "deliver" });
      return this.deliver(stanza, lastAttempt, redelivered, { partnerType: partner.type, contactAuthorised: facts.allowed });
    }
    const facts = stanza.kind === "message" ? await this.o.store.factsFor(recipient, sender) : { xmppAccess: true, allowed: false };
    const decision = decide({
      kind: stanza.kind,
      type: stanza.type,
      partnerType: partner?.type,
      recipientHasXmppAccess: facts.xmppAccess,
      senderAllowedByRecipient: facts.allowed,
    });
    this.decisions.inc({ kind: stanza.kind, decision: decision.action });

    if (decision.action === "drop") {
      this.o.log.debug({ id: stanza.id, reason: decision.reason }, "stanza dropped");
      return "done";
    }
    if (decision.action === "bounce") {
      this.o.log.info({ id: stanza.id, from: sender, to: recipient, condition: decision.error.condition }, "stanza refused");
      this.bounce(stanza, decision.error);
      return "done";
    }

    return this.deliver(stanza, lastAttempt, redelivered, {});
  }

  private async deliver(
    stanza: InboundStanza,
    lastAttempt: boolean,
    redelivered: boolean,
    presence: Pick<SipDeliveryRequest, "partnerType" | "contactAuthorised">,
  ): Promise<Outcome> {
    const sipDomain = this.o.sipDomains.get(stanza.localDomain) ?? stanza.localDomain;
    const request: SipDeliveryRequest = {
      ...presence,
      v: 1,
      id: stanza.id,
      kind: stanza.kind,
      ...(stanza.type === undefined ? {} : { type: stanza.type }),
      from: stanza.from,
      to: stanza.to,
      sipDomain,
      ...(redelivered ? { redelivered } : {}),
      xml: stanza.xml,
    };
    let result: SipDeliveryResult;
    try {
      result = await this.o.bus.request<SipDeliveryRequest, SipDeliveryResult>(subjects.sipDeliver, request, ["id", "outcome"], this.o.sipTimeoutMs);
    } catch (err) {
      if (!lastAttempt) {
        this.o.log.warn({ id: stanza.id, err: (err as Error).message }, "SIP translator did not answer; will retry");
        return "retry";
      }
      this.bounce(stanza, { type: "wait", condition: "remote-server-timeout", text: "the internal messaging system did not answer" });
      return "done";
    }
    if (result.outcome === "failed") {
      this.bounce(stanza, result.error ?? { type: "cancel", condition: "service-unavailable" });
    }
    return "done";
  }

  /** Send the sender an error stanza built from the original (RFC 6120 §8.3.1). */
  private bounce(stanza: InboundStanza, error: StanzaErrorInfo): void {
    let original: Element;
    try {
      original = parseStanza(stanza.xml);
    } catch (err) {
      this.o.log.error({ err, id: stanza.id }, "cannot parse a stanza to bounce it");
      return;
    }
    const reply = stanzaErrorReply(original, error);
    const outbound: OutboundStanza = {
      v: 1,
      id: `${stanza.id}/error`,
      localDomain: stanza.localDomain,
      remoteDomain: stanza.partnerDomain,
      type: "error",
      xml: serialize(reply),
    };
    this.o.bus.publish(subjects.outboundStanza, outbound);
  }
}
