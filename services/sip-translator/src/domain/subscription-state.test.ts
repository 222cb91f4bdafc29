import { test } from "node:test";
import assert from "node:assert/strict";
import { SipHeaders, serializeMessage, type SipRequest } from "@passerelle/sip";
import {
  SUBSCRIPTION_STATES,
  buildSipNotify,
  buildSipSubscribe,
  classifySipNotify,
  classifySipSubscribe,
  reduceSubscription,
  type SubscriptionAction,
  type SubscriptionContext,
  type SubscriptionEvent,
  type SubscriptionState,
} from "./subscription-state.ts";

const federated: SubscriptionContext = { partnerType: "federated", authorisedByUser: false };
const verified: SubscriptionContext = { partnerType: "public-verified", authorisedByUser: false };
const unverified: SubscriptionContext = { partnerType: "public-unverified", authorisedByUser: false };
const unverifiedAllowed: SubscriptionContext = { partnerType: "public-unverified", authorisedByUser: true };

const S = {
  none: "none",
  nPo: "none+pending-out",
  nPi: "none+pending-in",
  nPoi: "none+pending-out+in",
  to: "to",
  toPi: "to+pending-in",
  from: "from",
  fromPo: "from+pending-out",
  both: "both",
} as const satisfies Record<string, SubscriptionState>;

const send = (type: Extract<SubscriptionAction, { kind: "xmpp-send" }>["type"]): SubscriptionAction => ({ kind: "xmpp-send", type });
const notify = (state: "pending" | "active" | "terminated", reason?: "rejected" | "timeout"): SubscriptionAction =>
  reason === undefined ? { kind: "sip-notify", state } : { kind: "sip-notify", state, reason };
const watchStart: SubscriptionAction = { kind: "sip-watch-start" };
const watchStop: SubscriptionAction = { kind: "sip-watch-stop" };
const hold: SubscriptionAction = { kind: "hold-for-approval" };

type Row = [SubscriptionState, SubscriptionState, SubscriptionAction[]];

function check(event: SubscriptionEvent, ctx: SubscriptionContext, rows: Row[]): void {
  assert.deepEqual(new Set(rows.map((r) => r[0])), new Set(SUBSCRIPTION_STATES), "every state has a row");
  for (const [before, after, actions] of rows) {
    const r = reduceSubscription(before, event, ctx);
    assert.deepEqual({ state: r.state, actions: r.actions }, { state: after, actions }, `${event.direction} ${event.type} in ${before}`);
    assert.equal(r.changed, before !== after);
  }
}

test("RFC 6121 A.2.1: outbound subscribe (the internal user subscribes)", () => {
  check({ direction: "outbound", type: "subscribe" }, unverified, [
    [S.none, S.nPo, [send("subscribe"), notify("pending")]],
    [S.nPo, S.nPo, [send("subscribe"), notify("pending")]],
    // MISSION §1: subscribing to a held contact authorises it, so pending-in becomes "from".
    [S.nPi, S.fromPo, [send("subscribe"), notify("pending"), send("subscribed"), watchStart]],
    [S.nPoi, S.fromPo, [send("subscribe"), notify("pending"), send("subscribed"), watchStart]],
    [S.to, S.to, [send("subscribe"), notify("active")]],
    [S.toPi, S.both, [send("subscribe"), notify("active"), send("subscribed"), watchStart]],
    [S.from, S.fromPo, [send("subscribe"), notify("pending")]],
    [S.fromPo, S.fromPo, [send("subscribe"), notify("pending")]],
    [S.both, S.both, [send("subscribe"), notify("active")]],
  ]);
});

test("RFC 6121 A.2.2: outbound unsubscribe (the internal user cancels its subscription)", () => {
  const out = [send("unsubscribe"), notify("terminated", "timeout")];
  check({ direction: "outbound", type: "unsubscribe" }, federated, [
    [S.none, S.none, out],
    [S.nPo, S.none, out],
    [S.nPi, S.nPi, out],
    [S.nPoi, S.nPi, out],
    [S.to, S.none, out],
    [S.toPi, S.nPi, out],
    [S.from, S.from, out],
    [S.fromPo, S.from, out],
    [S.both, S.from, out],
  ]);
});

test("RFC 6121 A.2.3: outbound subscribed (the internal user approves)", () => {
  const ok = [send("subscribed"), watchStart];
  check({ direction: "outbound", type: "subscribed" }, unverified, [
    [S.none, S.none, []],
    [S.nPo, S.nPo, []],
    [S.nPi, S.from, ok],
    [S.nPoi, S.fromPo, ok],
    [S.to, S.to, []],
    [S.toPi, S.both, ok],
    [S.from, S.from, []],
    [S.fromPo, S.fromPo, []],
    [S.both, S.both, []],
  ]);
});

test("RFC 6121 A.2.4: outbound unsubscribed (the internal user refuses or revokes)", () => {
  const refuse = [send("unsubscribed")];
  // RFC 6121 §3.2.2 (text as quoted in the Babbler and node-xmpp-server sources): the unavailable
  // presence goes while the contact is still subscribed, i.e. before the unsubscribed.
  const revoke = [send("unavailable"), send("unsubscribed"), watchStop];
  check({ direction: "outbound", type: "unsubscribed" }, federated, [
    [S.none, S.none, []],
    [S.nPo, S.nPo, []],
    [S.nPi, S.none, refuse],
    [S.nPoi, S.nPo, refuse],
    [S.to, S.to, []],
    [S.toPi, S.to, refuse],
    [S.from, S.none, revoke],
    [S.fromPo, S.nPo, revoke],
    [S.both, S.to, revoke],
  ]);
});

test("RFC 6121 A.3.1: inbound subscribe, Federated and Public verified approved without the user", () => {
  const ok = [send("subscribed"), watchStart];
  const already = [send("subscribed")];
  for (const ctx of [federated, verified]) {
    check({ direction: "inbound", type: "subscribe" }, ctx, [
      [S.none, S.from, ok],
      [S.nPo, S.fromPo, ok],
      [S.nPi, S.from, ok],
      [S.nPoi, S.fromPo, ok],
      [S.to, S.both, ok],
      [S.toPi, S.both, ok],
      [S.from, S.from, already],
      [S.fromPo, S.fromPo, already],
      [S.both, S.both, already],
    ]);
  }
});

test("RFC 6121 A.3.1: inbound subscribe, Public unverified held unless the user authorised it", () => {
  const ok = [send("subscribed"), watchStart];
  const already = [send("subscribed")];
  check({ direction: "inbound", type: "subscribe" }, unverified, [
    [S.none, S.nPi, [hold]],
    // The internal user's own subscription (pending or granted) is its authorisation.
    [S.nPo, S.fromPo, ok],
    [S.nPi, S.nPi, []],
    [S.nPoi, S.fromPo, ok],
    [S.to, S.both, ok],
    [S.toPi, S.both, ok],
    [S.from, S.from, already],
    [S.fromPo, S.fromPo, already],
    [S.both, S.both, already],
  ]);
  check({ direction: "inbound", type: "subscribe" }, unverifiedAllowed, [
    [S.none, S.from, ok],
    [S.nPo, S.fromPo, ok],
    [S.nPi, S.from, ok],
    [S.nPoi, S.fromPo, ok],
    [S.to, S.both, ok],
    [S.toPi, S.both, ok],
    [S.from, S.from, already],
    [S.fromPo, S.fromPo, already],
    [S.both, S.both, already],
  ]);
});

test("RFC 6121 A.3.2: inbound unsubscribe (the contact stops watching the user)", () => {
  check({ direction: "inbound", type: "unsubscribe" }, federated, [
    [S.none, S.none, []],
    [S.nPo, S.nPo, []],
    [S.nPi, S.none, []],
    [S.nPoi, S.nPo, []],
    [S.to, S.to, []],
    [S.toPi, S.to, []],
    [S.from, S.none, [watchStop]],
    [S.fromPo, S.nPo, [watchStop]],
    [S.both, S.to, [watchStop]],
  ]);
});

test("RFC 6121 A.3.3: inbound subscribed (the contact approves the user)", () => {
  const active = [notify("active")];
  check({ direction: "inbound", type: "subscribed" }, unverified, [
    [S.none, S.none, []],
    [S.nPo, S.to, active],
    [S.nPi, S.nPi, []],
    [S.nPoi, S.toPi, active],
    [S.to, S.to, []],
    [S.toPi, S.toPi, []],
    [S.from, S.from, []],
    [S.fromPo, S.both, active],
    [S.both, S.both, []],
  ]);
});

test("RFC 6121 A.3.4: inbound unsubscribed (the contact refuses or revokes)", () => {
  const ended = [notify("terminated", "rejected")];
  check({ direction: "inbound", type: "unsubscribed" }, federated, [
    [S.none, S.none, []],
    [S.nPo, S.none, ended],
    [S.nPi, S.nPi, []],
    [S.nPoi, S.nPi, ended],
    [S.to, S.none, ended],
    [S.toPi, S.nPi, ended],
    [S.from, S.from, []],
    [S.fromPo, S.from, ended],
    [S.both, S.from, ended],
  ]);
});

test("a held Public unverified request is released by the user's authorisation", () => {
  const held = reduceSubscription("none", { direction: "inbound", type: "subscribe" }, unverified);
  assert.equal(held.state, "none+pending-in");
  const approved = reduceSubscription(held.state, { direction: "outbound", type: "subscribed" }, unverified);
  assert.deepEqual(approved, { state: "from", changed: true, actions: [send("subscribed"), watchStart] });
});

const draft = {
  requestUri: "sip:juliet@sip.contoso.com",
  from: "<sip:romeo@partner.example>;tag=a1",
  to: "<sip:juliet@sip.contoso.com>",
  callId: "sub1@gw.contoso.com",
  cseq: 1,
  contact: "<sip:gw.contoso.com;transport=tcp>",
};

test("XMPP subscribe → SIP SUBSCRIBE Event: presence, golden (RFC 8048 §5)", () => {
  assert.equal(
    serializeMessage(buildSipSubscribe(draft, 3600)).toString(),
    [
      "SUBSCRIBE sip:juliet@sip.contoso.com SIP/2.0",
      "Max-Forwards: 70",
      "From: <sip:romeo@partner.example>;tag=a1",
      "To: <sip:juliet@sip.contoso.com>",
      "Call-ID: sub1@gw.contoso.com",
      "CSeq: 1 SUBSCRIBE",
      "Contact: <sip:gw.contoso.com;transport=tcp>",
      "Event: presence",
      "Accept: application/pidf+xml",
      "Expires: 3600",
      "Content-Length: 0",
      "",
      "",
    ].join("\r\n"),
  );
});

test("XMPP unsubscribe → SUBSCRIBE Expires: 0, golden", () => {
  const text = serializeMessage(buildSipSubscribe({ ...draft, to: "<sip:juliet@sip.contoso.com>;tag=b2", cseq: 2 }, 0)).toString();
  assert.match(text, /\r\nCSeq: 2 SUBSCRIBE\r\n/);
  assert.match(text, /\r\nExpires: 0\r\n/);
});

test("XMPP unsubscribed → NOTIFY Subscription-State: terminated;reason=rejected, golden", () => {
  assert.equal(
    serializeMessage(buildSipNotify({ ...draft, cseq: 3 }, { state: "terminated", reason: "rejected" })).toString(),
    [
      "NOTIFY sip:juliet@sip.contoso.com SIP/2.0",
      "Max-Forwards: 70",
      "From: <sip:romeo@partner.example>;tag=a1",
      "To: <sip:juliet@sip.contoso.com>",
      "Call-ID: sub1@gw.contoso.com",
      "CSeq: 3 NOTIFY",
      "Contact: <sip:gw.contoso.com;transport=tcp>",
      "Event: presence",
      "Subscription-State: terminated;reason=rejected",
      "Content-Length: 0",
      "",
      "",
    ].join("\r\n"),
  );
});

test("presence → NOTIFY active with a PIDF body", () => {
  const pidf = '<?xml version="1.0" encoding="UTF-8"?><presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:romeo@partner.example"/>';
  const text = serializeMessage(buildSipNotify(draft, { state: "active", expires: 3599 }, pidf)).toString();
  assert.match(text, /\r\nSubscription-State: active;expires=3599\r\nContent-Type: application\/pidf\+xml\r\n/);
  assert.ok(text.endsWith(`\r\n\r\n${pidf}`));
  assert.match(serializeMessage(buildSipNotify(draft, { state: "pending", expires: 60 })).toString(), /Subscription-State: pending;expires=60\r\n/);
  assert.match(serializeMessage(buildSipNotify(draft, { state: "terminated" })).toString(), /Subscription-State: terminated\r\n/);
});

function request(method: string, headers: [string, string][], body = ""): SipRequest {
  return { kind: "request", method, uri: "sip:romeo@partner.example", headers: new SipHeaders(headers), body: Buffer.from(body, "utf8") };
}

test("SIP SUBSCRIBE from the internal user → subscription events", () => {
  assert.deepEqual(classifySipSubscribe(request("SUBSCRIBE", [["Event", "presence"], ["Expires", "3600"]]), false), {
    kind: "event",
    event: { direction: "outbound", type: "subscribe" },
  });
  assert.deepEqual(classifySipSubscribe(request("SUBSCRIBE", [["Event", "presence"]]), false), {
    kind: "event",
    event: { direction: "outbound", type: "subscribe" },
  });
  assert.deepEqual(classifySipSubscribe(request("SUBSCRIBE", [["Event", "presence"], ["Expires", "0"]]), true), {
    kind: "event",
    event: { direction: "outbound", type: "unsubscribe" },
  });
  assert.deepEqual(classifySipSubscribe(request("SUBSCRIBE", [["Event", "Presence;id=1"], ["Expires", "1800"]]), true), { kind: "refresh", expires: 1800 });
  assert.deepEqual(classifySipSubscribe(request("SUBSCRIBE", [["Event", "dialog"]]), false), { kind: "rejected", status: 489, reason: "Bad Event" });
  assert.deepEqual(classifySipSubscribe(request("SUBSCRIBE", []), false), { kind: "rejected", status: 489, reason: "Bad Event" });
  assert.deepEqual(classifySipSubscribe(request("SUBSCRIBE", [["Event", "presence"], ["Expires", "-1"]]), false), { kind: "rejected", status: 400, reason: "Bad Expires" });
  assert.deepEqual(classifySipSubscribe(request("PUBLISH", [["Event", "presence"]]), false), { kind: "rejected", status: 405, reason: "Method Not Allowed" });
});

test("SIP NOTIFY from the presence server → presence, end of watch, or the user's revocation", () => {
  const pidf = '<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:juliet@sip.contoso.com"/>';
  assert.deepEqual(classifySipNotify(request("NOTIFY", [["Event", "presence"], ["Subscription-State", "active;expires=3600"], ["Content-Type", "application/pidf+xml"]], pidf)), {
    kind: "presence",
    pidf,
    state: "active",
  });
  assert.deepEqual(classifySipNotify(request("NOTIFY", [["Event", "presence"], ["Subscription-State", "pending"]])), { kind: "presence", pidf: undefined, state: "pending" });
  assert.deepEqual(classifySipNotify(request("NOTIFY", [["Event", "presence"], ["Subscription-State", "terminated;reason=rejected"]])), {
    kind: "ended",
    resubscribe: false,
    event: { direction: "outbound", type: "unsubscribed" },
  });
  assert.deepEqual(classifySipNotify(request("NOTIFY", [["Event", "presence"], ["Subscription-State", "terminated;reason=timeout"]])), { kind: "ended", resubscribe: true });
  assert.deepEqual(classifySipNotify(request("NOTIFY", [["Event", "presence"], ["Subscription-State", "terminated;reason=deactivated"]])), { kind: "ended", resubscribe: true });
  assert.deepEqual(classifySipNotify(request("NOTIFY", [["Event", "presence"], ["Subscription-State", "terminated;reason=noresource"]])), { kind: "ended", resubscribe: false });
  assert.deepEqual(classifySipNotify(request("NOTIFY", [["Event", "presence"], ["Subscription-State", "active"], ["Content-Type", "text/plain"]], "hi")), {
    kind: "rejected",
    status: 415,
    reason: "Unsupported Media Type",
  });
  assert.deepEqual(classifySipNotify(request("NOTIFY", [["Event", "presence"]])), { kind: "rejected", status: 400, reason: "Missing Subscription-State" });
  assert.deepEqual(classifySipNotify(request("NOTIFY", [["Event", "message-summary"], ["Subscription-State", "active"]])), { kind: "rejected", status: 489, reason: "Bad Event" });
  assert.deepEqual(classifySipNotify(request("NOTIFY", [["Event", "presence"], ["Subscription-State", "bogus"]])), { kind: "rejected", status: 400, reason: "Bad Subscription-State" });
});

// ---- Golden check against the RFC's own state tables ----
// RFC 3921 Tables 1–6 ("recommended handling" of outbound subscribed/unsubscribed and inbound
// subscribe/unsubscribe/subscribed/unsubscribed), read as quoted verbatim in the Tigase server's
// source (the stored copies of RFC 3921/6121 themselves show only their opening pages). RFC 6121
// Appendix A keeps the same nine states. Each table: the existing state → [routed/delivered, new state];
// null = "no state change". Order of rows: the RFC's.
type RfcRow = [boolean, SubscriptionState | null];
type RfcTable = Record<SubscriptionState, RfcRow>;
const rfcTable = (rows: RfcRow[]): RfcTable => Object.fromEntries(SUBSCRIPTION_STATES.map((s, i) => [s, rows[i]!])) as RfcTable;
const no: RfcRow = [false, null];
// Table 1: outbound "subscribed" (the user approves).
const T1 = rfcTable([no, no, [true, S.from], [true, S.fromPo], no, [true, S.both], no, no, no]);
// Table 2: outbound "unsubscribed" (the user refuses or revokes).
const T2 = rfcTable([no, no, [true, S.none], [true, S.nPo], no, [true, S.to], [true, S.none], [true, S.nPo], [true, S.to]]);
// Table 3: inbound "subscribe" (the contact asks); the "no *" rows (from, from+pending-out, both) are auto-replied.
const T3 = rfcTable([[true, S.nPi], [true, S.nPoi], no, no, [true, S.toPi], no, no, no, no]);
// Table 4: inbound "unsubscribe" (the contact stops watching the user).
const T4 = rfcTable([no, no, [true, S.none], [true, S.nPo], no, [true, S.to], [true, S.none], [true, S.nPo], [true, S.to]]);
// Table 5: inbound "subscribed" (the contact approves the user).
const T5 = rfcTable([no, [true, S.to], no, [true, S.toPi], no, no, no, [true, S.both], no]);
// Table 6: inbound "unsubscribed" (the contact refuses or revokes).
const T6 = rfcTable([no, [true, S.none], no, [true, S.nPi], [true, S.none], [true, S.nPi], no, [true, S.from], [true, S.from]]);
const after = (table: RfcTable, s: SubscriptionState): SubscriptionState => table[s][1] ?? s;

test("RFC 3921 Table 1 (RFC 6121 A.2.3): outbound subscribed, every state, routed only when the RFC routes it", () => {
  for (const s of SUBSCRIPTION_STATES) {
    const r = reduceSubscription(s, { direction: "outbound", type: "subscribed" }, unverified);
    assert.equal(r.state, after(T1, s), s);
    assert.equal(r.actions.some((a) => a.kind === "xmpp-send" && a.type === "subscribed"), T1[s][0], s);
  }
});

test("RFC 3921 Table 2 (RFC 6121 A.2.4): outbound unsubscribed, every state, routed only when the RFC routes it", () => {
  for (const s of SUBSCRIPTION_STATES) {
    const r = reduceSubscription(s, { direction: "outbound", type: "unsubscribed" }, federated);
    assert.equal(r.state, after(T2, s), s);
    assert.equal(r.actions.some((a) => a.kind === "xmpp-send" && a.type === "unsubscribed"), T2[s][0], s);
  }
});

test("RFC 3921 Table 3 (RFC 6121 A.3.1): inbound subscribe; a held request is the RFC row, an approval is Table 3 then Table 1", () => {
  for (const s of SUBSCRIPTION_STATES) {
    // Held (Public unverified, not authorised, the user not subscribing): exactly the RFC's row.
    const held = reduceSubscription(s, { direction: "inbound", type: "subscribe" }, unverified);
    const heldExpected = s === S.none || s === S.nPi ? after(T3, s) : after(T1, after(T3, s));
    assert.equal(held.state, heldExpected, `unverified ${s}`);
    // Approved at once (Federated): the contact's request followed by the user's approval.
    const approved = reduceSubscription(s, { direction: "inbound", type: "subscribe" }, federated);
    assert.equal(approved.state, after(T1, after(T3, s)), `federated ${s}`);
    // The "no *" rows: already subscribed, no state change, the request is answered with subscribed.
    if (T3[s][0] === false && T3[s][1] === null && subscriptionFrom(s)) assert.deepEqual(approved.actions, [send("subscribed")], s);
  }
});

test("RFC 3921 Table 4 (RFC 6121 A.3.2): inbound unsubscribe, every state", () => {
  for (const s of SUBSCRIPTION_STATES) {
    assert.equal(reduceSubscription(s, { direction: "inbound", type: "unsubscribe" }, federated).state, after(T4, s), s);
  }
});

test("RFC 3921 Table 5 (RFC 6121 A.3.3): inbound subscribed, every state, passed to the SIP watcher only when the RFC delivers it", () => {
  for (const s of SUBSCRIPTION_STATES) {
    const r = reduceSubscription(s, { direction: "inbound", type: "subscribed" }, federated);
    assert.equal(r.state, after(T5, s), s);
    assert.equal(r.actions.some((a) => a.kind === "sip-notify" && a.state === "active"), T5[s][0], s);
  }
});

test("RFC 3921 Table 6 (RFC 6121 A.3.4): inbound unsubscribed, every state, passed to the SIP watcher only when the RFC delivers it", () => {
  for (const s of SUBSCRIPTION_STATES) {
    const r = reduceSubscription(s, { direction: "inbound", type: "unsubscribed" }, federated);
    assert.equal(r.state, after(T6, s), s);
    assert.equal(r.actions.some((a) => a.kind === "sip-notify" && a.state === "terminated"), T6[s][0], s);
  }
});

function subscriptionFrom(s: SubscriptionState): boolean {
  return s === S.from || s === S.fromPo || s === S.both;
}
