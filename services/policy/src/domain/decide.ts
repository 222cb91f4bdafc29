/**
 * What policy does with one inbound stanza (MISSION.md section 1, the partner types). Pure: the
 * caller looks up the partner, the internal user's XMPP access and allow-list first.
 */
import type { PartnerType } from "@passerelle/config";
import type { StanzaErrorInfo, StanzaKind } from "@passerelle/contracts";

export interface InboundFacts {
  kind: StanzaKind;
  type: string | undefined;
  /** The partner entry covering the sender's domain, or undefined when none does. */
  partnerType: PartnerType | undefined;
  /** Whether the internal recipient may use XMPP at all (Lync's EnableXmppAccess). */
  recipientHasXmppAccess: boolean;
  /** Whether the internal recipient has allowed this sender (contact list or allow-list). */
  senderAllowedByRecipient: boolean;
}

export type Decision =
  | { action: "deliver" }
  | { action: "bounce"; error: StanzaErrorInfo }
  | { action: "drop"; reason: string };

/** Does this partner type let its users reach an internal user without the user's approval? */
export function mayReachWithoutApproval(type: PartnerType): boolean {
  return type === "federated" || type === "public-verified";
}

/** Whether a partner type may see internal users' status notes (Federated only). */
export function maySeeStatusNote(type: PartnerType): boolean {
  return type === "federated";
}

export function decide(facts: InboundFacts): Decision {
  // RFC 6120 §8.3.1: an error stanza is never answered with an error.
  if (facts.type === "error") return { action: "drop", reason: "error stanzas are not bounced" };
  if (facts.kind === "iq") {
    // RFC 6120 §8.2.3: results need no answer; get/set to a SIP user is a service we don't offer.
    if (facts.type === "result") return { action: "drop", reason: "iq result with no request outstanding" };
    return { action: "bounce", error: { type: "cancel", condition: "service-unavailable" } };
  }
  if (facts.partnerType === undefined) {
    // The edge only authenticates configured partners; a stale entry after a removal lands here.
    return { action: "bounce", error: { type: "cancel", condition: "service-unavailable", text: "this domain is not a federated partner" } };
  }
  if (facts.kind === "presence") {
    // Presence is handled by the presence work (issue 3); until then it is dropped, counted and logged.
    return { action: "drop", reason: "presence is not translated yet" };
  }
  if (facts.type === "groupchat") {
    return { action: "bounce", error: { type: "cancel", condition: "feature-not-implemented", text: "group chat is not supported over this gateway" } };
  }
  // RFC 6120 §8.5.2.1: a user who may not be reached looks like one who does not exist.
  if (!facts.recipientHasXmppAccess) {
    return { action: "bounce", error: { type: "cancel", condition: "service-unavailable" } };
  }
  if (!mayReachWithoutApproval(facts.partnerType) && !facts.senderAllowedByRecipient) {
    return {
      action: "bounce",
      error: { type: "auth", condition: "forbidden", text: "the recipient has not allowed messages from you" },
    };
  }
  return { action: "deliver" };
}
