/**
 * Whether an internal user may send a stanza to an XMPP address (MISSION.md: per-user XMPP access
 * like Lync's EnableXmppAccess; only configured partners' domains are reachable). Pure: the caller
 * looks up the user's access and the partner entry first. Partner types restrict what their users
 * may send us, not what our users may send them, so the type does not matter here.
 */
import type { PartnerType } from "@passerelle/config";
import type { StanzaErrorInfo, StanzaKind } from "@passerelle/contracts";

export interface OutboundFacts {
  kind: StanzaKind;
  type: string | undefined;
  /** The sender's domain is one of ours. */
  senderIsLocal: boolean;
  /** The recipient's domain is one of ours (a SIP proxy misroute: local users are not reached over XMPP). */
  recipientIsLocal: boolean;
  /** The sender may use XMPP at all (default gateway.xmppAccessDefault). */
  senderHasXmppAccess: boolean;
  /** The partner entry covering the recipient's domain, or undefined. */
  partnerType: PartnerType | undefined;
}

export type OutboundDecision =
  | { action: "allow"; /** The recipient becomes one of the sender's allowed contacts. */ allowContact: boolean }
  | { action: "refuse"; error: StanzaErrorInfo };

export function decideOutbound(facts: OutboundFacts): OutboundDecision {
  if (!facts.senderIsLocal) return refuse("forbidden", "auth", "the sender is not a user of this gateway");
  if (!facts.senderHasXmppAccess) return refuse("forbidden", "auth", "this user may not write to XMPP contacts");
  if (facts.recipientIsLocal) return refuse("item-not-found", "cancel", "the recipient is an internal user, not an XMPP contact");
  // RFC 6120 §8.3.3.17: a domain we do not federate with is, for us, a remote server that cannot be found.
  if (facts.partnerType === undefined) return refuse("remote-server-not-found", "cancel", "the recipient's domain is not a federated partner");
  if (facts.kind === "message" && facts.type === "groupchat") return refuse("feature-not-implemented", "cancel", "group chat is not supported over this gateway");
  // MISSION.md section 1 ("an internal user adding an XMPP contact authorises it"): writing to a
  // contact is adding it, so a Public unverified contact may answer. Errors add nobody.
  return { action: "allow", allowContact: facts.kind === "message" && facts.type !== "error" };
}

function refuse(condition: string, type: StanzaErrorInfo["type"], text: string): OutboundDecision {
  return { action: "refuse", error: { type, condition, text } };
}
