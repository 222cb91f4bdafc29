/**
 * Presence subscriptions across the gateway: the XMPP subscription state of one (internal user,
 * partner contact) pair as a pure reducer (RFC 6121 §3 and Appendix A), with the partner-type
 * approval rules, and the SIP side of it (RFC 8048 §5: SUBSCRIBE / NOTIFY, RFC 6665). Pure: the
 * caller stores the state and carries out the actions.
 *
 * The state is the internal user's roster item for the contact: "to" means the internal user sees
 * the contact's presence, "from" means the contact sees the internal user's presence.
 *
 * Checked: the transitions of outbound subscribed/unsubscribed and of the four inbound types agree
 * with RFC 3921 Tables 1–6 row by row (golden tests in subscription-state.test.ts; the RFC 3921 text
 * was read as quoted in the Tigase server's source, RFC 6121 Appendix A itself was not reachable).
 * Outbound subscribe/unsubscribe (RFC 6121 A.2.1/A.2.2) are not verified against RFC text.
 */
import { SipHeaders, type SipRequest } from "@passerelle/sip";
import type { PartnerType } from "@passerelle/config";
import { PIDF_CONTENT_TYPE } from "./presence-mapping.ts";

// RFC 6121 Appendix A.1: the nine defined subscription states.
export type SubscriptionState =
  | "none"
  | "none+pending-out"
  | "none+pending-in"
  | "none+pending-out+in"
  | "to"
  | "to+pending-in"
  | "from"
  | "from+pending-out"
  | "both";

export const SUBSCRIPTION_STATES: readonly SubscriptionState[] = [
  "none",
  "none+pending-out",
  "none+pending-in",
  "none+pending-out+in",
  "to",
  "to+pending-in",
  "from",
  "from+pending-out",
  "both",
];

export type SubscriptionStanzaType = "subscribe" | "subscribed" | "unsubscribe" | "unsubscribed";

/**
 * Outbound: the internal user did it (on the SIP side, or by an authorisation such as the
 * allow-list); inbound: the partner contact did it (an XMPP stanza from the partner).
 */
export interface SubscriptionEvent {
  direction: "inbound" | "outbound";
  type: SubscriptionStanzaType;
}

export interface SubscriptionContext {
  partnerType: PartnerType;
  /** The internal user has authorised the contact: allow-list entry or contact-list entry. */
  authorisedByUser: boolean;
}

/** What the caller does, in order. The XMPP stanzas go from the internal user to the contact. */
export type SubscriptionAction =
  /** Send <presence type='…'/> to the partner contact. */
  | { kind: "xmpp-send"; type: SubscriptionStanzaType | "unavailable" }
  /** Watch the internal user's presence for the contact: SUBSCRIBE Event: presence to the presence server. */
  | { kind: "sip-watch-start" }
  /** Stop that watch: SUBSCRIBE Expires: 0. */
  | { kind: "sip-watch-stop" }
  /** NOTIFY to the internal user's own SIP watch of the contact. */
  | { kind: "sip-notify"; state: "pending" | "active" | "terminated"; reason?: "rejected" | "timeout" }
  /** A Public unverified contact asked: keep the request until the internal user authorises it. */
  | { kind: "hold-for-approval" };

export interface SubscriptionResult {
  state: SubscriptionState;
  changed: boolean;
  actions: SubscriptionAction[];
}

export interface SubscriptionFlags {
  to: boolean;
  from: boolean;
  pendingOut: boolean;
  pendingIn: boolean;
}
type Flags = SubscriptionFlags;

/** The four facts a state stands for (RFC 6121 Appendix A.1). */
export function subscriptionFlags(s: SubscriptionState): SubscriptionFlags {
  return flags(s);
}

function flags(s: SubscriptionState): Flags {
  return {
    to: s === "to" || s === "to+pending-in" || s === "both",
    from: s === "from" || s === "from+pending-out" || s === "both",
    pendingOut: s === "none+pending-out" || s === "none+pending-out+in" || s === "from+pending-out",
    pendingIn: s === "none+pending-in" || s === "none+pending-out+in" || s === "to+pending-in",
  };
}

function named(f: Flags): SubscriptionState {
  // RFC 6121 §3.1: a pending request in one direction disappears once that direction is subscribed.
  const pendingOut = f.pendingOut && !f.to;
  const pendingIn = f.pendingIn && !f.from;
  if (f.to && f.from) return "both";
  if (f.to) return pendingIn ? "to+pending-in" : "to";
  if (f.from) return pendingOut ? "from+pending-out" : "from";
  if (pendingOut && pendingIn) return "none+pending-out+in";
  if (pendingOut) return "none+pending-out";
  if (pendingIn) return "none+pending-in";
  return "none";
}

function result(before: SubscriptionState, f: Flags, actions: SubscriptionAction[]): SubscriptionResult {
  const state = named(f);
  return { state, changed: state !== before, actions };
}

// Partner-type rule (MISSION §1): Federated and Public verified are approved without the user; Public
// unverified only once the user authorised them (allow-list, contact list, or the user's own subscription).
function approvedWithoutAsking(f: Flags, ctx: SubscriptionContext): boolean {
  if (ctx.partnerType === "federated" || ctx.partnerType === "public-verified") return true;
  return ctx.authorisedByUser || f.to || f.pendingOut;
}

/** The new state and the actions for one subscription event (RFC 6121 Appendix A.2 and A.3). */
export function reduceSubscription(state: SubscriptionState, event: SubscriptionEvent, ctx: SubscriptionContext): SubscriptionResult {
  const f = flags(state);
  if (event.direction === "outbound") {
    switch (event.type) {
      // RFC 6121 A.2.1: the user subscribes; always routed; pending-out unless already "to".
      case "subscribe": {
        const actions: SubscriptionAction[] = [{ kind: "xmpp-send", type: "subscribe" }];
        // RFC 6665 §4.2.1.2: the user's SIP watch gets an immediate NOTIFY with the current state.
        actions.push({ kind: "sip-notify", state: f.to ? "active" : "pending" });
        const next = { ...f, pendingOut: !f.to };
        // MISSION §1: the internal user subscribing to a held contact authorises it (RFC 6121 A.2.3 applied too).
        if (f.pendingIn) {
          actions.push({ kind: "xmpp-send", type: "subscribed" }, { kind: "sip-watch-start" });
          next.from = true;
          next.pendingIn = false;
        }
        return result(state, next, actions);
      }
      // RFC 6121 A.2.2: the user cancels its subscription; routed; "to" and pending-out are cleared.
      case "unsubscribe":
        return result(state, { ...f, to: false, pendingOut: false }, [
          { kind: "xmpp-send", type: "unsubscribe" },
          { kind: "sip-notify", state: "terminated", reason: "timeout" },
        ]);
      // RFC 6121 A.2.3: the user approves; only a pending-in request changes anything (no pre-approval here).
      case "subscribed":
        if (!f.pendingIn) return result(state, f, []);
        return result(state, { ...f, from: true, pendingIn: false }, [
          { kind: "xmpp-send", type: "subscribed" },
          { kind: "sip-watch-start" },
        ]);
      // RFC 6121 A.2.4 and §3.2.2: the user refuses or revokes. A revocation sends unavailable first:
      // "while the user is still subscribed ... (i.e., before the contact's server routes or delivers the
      // presence stanza of type "unsubscribed" ...)" the unavailable presence MUST be sent (§3.2.2).
      case "unsubscribed": {
        if (!f.from && !f.pendingIn) return result(state, f, []);
        const actions: SubscriptionAction[] = f.from
          ? [{ kind: "xmpp-send", type: "unavailable" }, { kind: "xmpp-send", type: "unsubscribed" }, { kind: "sip-watch-stop" }]
          : [{ kind: "xmpp-send", type: "unsubscribed" }];
        return result(state, { ...f, from: false, pendingIn: false }, actions);
      }
    }
  }
  switch (event.type) {
    // RFC 6121 A.3.1 and §3.1.3: a contact asks; already "from" → auto-reply subscribed; else approve or hold.
    case "subscribe": {
      if (f.from) return result(state, f, [{ kind: "xmpp-send", type: "subscribed" }]);
      if (approvedWithoutAsking(f, ctx))
        return result(state, { ...f, from: true, pendingIn: false }, [
          { kind: "xmpp-send", type: "subscribed" },
          { kind: "sip-watch-start" },
        ]);
      return result(state, { ...f, pendingIn: true }, f.pendingIn ? [] : [{ kind: "hold-for-approval" }]);
    }
    // RFC 6121 A.3.2: the contact cancels its subscription to the user; "from" and pending-in cleared.
    case "unsubscribe":
      if (!f.from && !f.pendingIn) return result(state, f, []);
      return result(state, { ...f, from: false, pendingIn: false }, f.from ? [{ kind: "sip-watch-stop" }] : []);
    // RFC 6121 A.3.3: the contact approves; delivered only when the user had asked (pending-out).
    case "subscribed":
      if (!f.pendingOut) return result(state, f, []);
      return result(state, { ...f, to: true, pendingOut: false }, [{ kind: "sip-notify", state: "active" }]);
    // RFC 6121 A.3.4: the contact refuses or revokes; "to" and pending-out cleared.
    case "unsubscribed":
      if (!f.to && !f.pendingOut) return result(state, f, []);
      return result(state, { ...f, to: false, pendingOut: false }, [{ kind: "sip-notify", state: "terminated", reason: "rejected" }]);
  }
}

// ---- The SIP side (RFC 8048 §5, RFC 6665, RFC 3856) ----

/** Default lifetime asked for a SIP presence subscription, refreshed before it ends (RFC 3856 §6.4: 3600 s). */
export const DEFAULT_SUBSCRIBE_EXPIRES = 3600;

/** Everything of a SUBSCRIBE or NOTIFY but the Via, which the transaction layer adds. */
export interface SipSubscriptionDraft {
  requestUri: string;
  from: string;
  to: string;
  callId: string;
  cseq: number;
  contact: string;
}

// RFC 8048 §5.2 / RFC 3856 §6: XMPP subscribe → SUBSCRIBE Event: presence; unsubscribe → the same with Expires: 0.
/** A presence SUBSCRIBE; expires 0 ends the subscription. */
export function buildSipSubscribe(draft: SipSubscriptionDraft, expires: number): SipRequest {
  const headers = new SipHeaders([
    ["Max-Forwards", "70"],
    ["From", draft.from],
    ["To", draft.to],
    ["Call-ID", draft.callId],
    ["CSeq", `${draft.cseq} SUBSCRIBE`],
    ["Contact", draft.contact],
    ["Event", "presence"],
    ["Accept", PIDF_CONTENT_TYPE],
    ["Expires", String(Math.max(0, Math.trunc(expires)))],
  ]);
  return { kind: "request", method: "SUBSCRIBE", uri: draft.requestUri, headers, body: Buffer.alloc(0) };
}

export type NotifyState =
  | { state: "pending" | "active"; expires: number }
  | { state: "terminated"; reason?: "rejected" | "timeout" | "deactivated" | "noresource" };

// RFC 6665 §4.2.1.2 and §8.2.3 / RFC 8048 §5.3: the Subscription-State header; an XMPP unsubscribed → terminated.
export function subscriptionStateHeader(s: NotifyState): string {
  if (s.state === "terminated") return s.reason === undefined ? "terminated" : `terminated;reason=${s.reason}`;
  return `${s.state};expires=${Math.max(0, Math.trunc(s.expires))}`;
}

/** A presence NOTIFY; with a PIDF body when there is presence to carry. */
export function buildSipNotify(draft: SipSubscriptionDraft, state: NotifyState, pidf?: string): SipRequest {
  const headers = new SipHeaders([
    ["Max-Forwards", "70"],
    ["From", draft.from],
    ["To", draft.to],
    ["Call-ID", draft.callId],
    ["CSeq", `${draft.cseq} NOTIFY`],
    ["Contact", draft.contact],
    ["Event", "presence"],
    ["Subscription-State", subscriptionStateHeader(state)],
  ]);
  if (pidf !== undefined) headers.append("Content-Type", PIDF_CONTENT_TYPE);
  return { kind: "request", method: "NOTIFY", uri: draft.requestUri, headers, body: Buffer.from(pidf ?? "", "utf8") };
}

export type SipSubscribeMeaning =
  | { kind: "event"; event: SubscriptionEvent }
  /** An in-dialog refresh: answer it, no XMPP stanza (XMPP subscriptions do not expire). */
  | { kind: "refresh"; expires: number }
  | { kind: "rejected"; status: number; reason: string };

// RFC 8048 §5.2: a SIP SUBSCRIBE from the internal user is its XMPP subscribe; Expires: 0 its unsubscribe.
/** What an incoming SUBSCRIBE (from the internal user's SIP watcher) means for the subscription. */
export function classifySipSubscribe(request: SipRequest, inDialog: boolean): SipSubscribeMeaning {
  if (request.method !== "SUBSCRIBE") return { kind: "rejected", status: 405, reason: "Method Not Allowed" };
  // RFC 6665 §7.2.2 / §8.2.1: only the presence package is served; anything else is 489.
  const event = (request.headers.get("event") ?? "").split(";")[0]?.trim().toLowerCase();
  if (event !== "presence") return { kind: "rejected", status: 489, reason: "Bad Event" };
  const raw = request.headers.get("expires");
  let expires = DEFAULT_SUBSCRIBE_EXPIRES;
  if (raw !== undefined) {
    if (!/^\s*\d{1,10}\s*$/.test(raw)) return { kind: "rejected", status: 400, reason: "Bad Expires" };
    expires = Number(raw);
  }
  if (expires === 0) return { kind: "event", event: { direction: "outbound", type: "unsubscribe" } };
  if (inDialog) return { kind: "refresh", expires };
  return { kind: "event", event: { direction: "outbound", type: "subscribe" } };
}

export type SipNotifyMeaning =
  | { kind: "presence"; pidf: string | undefined; state: "pending" | "active" }
  /** The presence server ended the gateway's watch: re-subscribe later, not a subscription change. */
  | { kind: "ended"; resubscribe: boolean; event?: SubscriptionEvent }
  | { kind: "rejected"; status: number; reason: string };

// RFC 6665 §4.1.3 / RFC 8048 §5.3: a NOTIFY to the gateway's watch; terminated;reason=rejected is the user's revocation.
/** What a NOTIFY from the presence server (for the watch on behalf of a contact) means. */
export function classifySipNotify(request: SipRequest): SipNotifyMeaning {
  if (request.method !== "NOTIFY") return { kind: "rejected", status: 405, reason: "Method Not Allowed" };
  const event = (request.headers.get("event") ?? "").split(";")[0]?.trim().toLowerCase();
  if (event !== "presence") return { kind: "rejected", status: 489, reason: "Bad Event" };
  const header = request.headers.get("subscription-state");
  if (header === undefined) return { kind: "rejected", status: 400, reason: "Missing Subscription-State" };
  const [value, ...params] = header.split(";").map((p) => p.trim().toLowerCase());
  const body = request.body.length > 0 ? request.body.toString("utf8") : undefined;
  if (body !== undefined) {
    const type = (request.headers.get("content-type") ?? "").split(";")[0]?.trim().toLowerCase();
    if (type !== PIDF_CONTENT_TYPE) return { kind: "rejected", status: 415, reason: "Unsupported Media Type" };
  }
  if (value === "active" || value === "pending") return { kind: "presence", pidf: body, state: value };
  if (value === "terminated") {
    const reason = params.find((p) => p.startsWith("reason="))?.slice("reason=".length);
    // RFC 6665 §4.1.3: rejected / noresource mean do not retry; the others invite a new SUBSCRIBE.
    if (reason === "rejected") return { kind: "ended", resubscribe: false, event: { direction: "outbound", type: "unsubscribed" } };
    if (reason === "noresource" || reason === "invariant") return { kind: "ended", resubscribe: false };
    return { kind: "ended", resubscribe: true };
  }
  return { kind: "rejected", status: 400, reason: "Bad Subscription-State" };
}
