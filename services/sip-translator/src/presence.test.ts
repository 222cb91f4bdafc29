// The presence service against fakes: a memory store, a recorded SIP side and bus, a clock we move.
// Read as conversations: "Alice (Federated) asks to see Romeo …".
import { test } from "node:test";
import assert from "node:assert/strict";
import type { ContactStatusReply, OutboundAuthorizeReply, OutboundStanza, PartnerKind, SipDeliveryRequest } from "@passerelle/contracts";
import { createResponse, parseNameAddr, SipHeaders, type ClientTransactionResult, type SipRequest } from "@passerelle/sip";
import { parseElements, type Element } from "@passerelle/xmpp";
import { MemoryPresenceStore } from "./adapters/presence-store.ts";
import { AddressMapper } from "./domain/address-mapping.ts";
import { PresenceService, type PresenceEvent, type PresenceOptions } from "./presence.ts";

const ROMEO = "romeo@gateway.test";
const ALICE = "alice@prosody.test";
const OUR_CONTACT = "sip:127.0.0.3:5070;transport=udp";
const PRESENCE_SERVER = "sip:127.0.0.4:5060";

function pidf(basic: "open" | "closed", note?: string, activity?: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?><presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="sip:${ROMEO}">` +
    `<tuple id="t1"><status><basic>${basic}</basic></status>${note ? `<note>${note}</note>` : ""}</tuple>` +
    (activity ? `<dm:person id="p"><rpid:activities><rpid:${activity}/></rpid:activities></dm:person>` : "") +
    `</presence>`
  );
}

function stanza(xmlText: string): Element {
  const parsed = parseElements(xmlText, { maxStanzaBytes: 10_000, maxDepth: 10, maxAttributesPerElement: 20, maxHeaderBytes: 1000 }, { acceptClientNamespace: true });
  assert.ok(parsed.ok);
  const [el] = parsed.elements;
  assert.ok(el);
  return el;
}

function fixture(overrides: Partial<PresenceOptions> & { answer?: (r: SipRequest) => ClientTransactionResult; status?: ContactStatusReply; verdict?: OutboundAuthorizeReply } = {}) {
  const store = new MemoryPresenceStore();
  const sent: SipRequest[] = [];
  const xmpp: OutboundStanza[] = [];
  const events: PresenceEvent[] = [];
  let clock = 1_000_000;
  let n = 0;
  const defaultAnswer = (r: SipRequest): ClientTransactionResult => {
    const status = r.method === "SUBSCRIBE" ? 202 : 200;
    const headers: [string, string][] = r.method === "SUBSCRIBE" ? [["Contact", `<${PRESENCE_SERVER}>`], ["Expires", r.headers.get("expires") ?? "3600"]] : [];
    return { response: createResponse(r, status, { headers, toTag: "ps-tag" }), source: "network" };
  };
  const service = new PresenceService({
    mapper: new AddressMapper([{ xmpp: "gateway.test", sip: "gateway.test" }]),
    localDomains: new Set(["gateway.test"]),
    store,
    contactUri: OUR_CONTACT,
    gatewayHost: "gw1",
    sipSend: async (r) => {
      sent.push(r);
      return (overrides.answer ?? defaultAnswer)(r);
    },
    deliverXmpp: async (s) => {
      xmpp.push(s);
      return { v: 1, id: s.id, outcome: "sent" };
    },
    authorize: async () => overrides.verdict ?? { v: 1, allowed: true, partnerType: "federated" },
    contactStatus: async () => overrides.status ?? { v: 1, authorised: true, xmppAccess: true, partnerType: "public-unverified" },
    newId: () => `id${++n}`,
    now: () => clock,
    maxPidfBytes: 4096,
    subscribeExpires: 3600,
    maxWatcherExpires: 3600,
    maxHeldPerUser: 2,
    probeIntervalMs: 28_800_000,
    onEvent: (e) => events.push(e),
    ...overrides,
  });
  const fromXmpp = (from: string, xmlText: string, partnerType: PartnerKind, contactAuthorised = false) => {
    const request: SipDeliveryRequest = { v: 1, id: `in${++n}`, kind: "presence", from, to: ROMEO, sipDomain: "gateway.test", xml: xmlText, partnerType, contactAuthorised };
    return service.fromXmpp(request, stanza(xmlText));
  };
  return {
    service,
    store,
    sent,
    xmpp,
    events,
    fromXmpp,
    tick: (ms: number) => (clock += ms),
    settle: () => new Promise((r) => setTimeout(r, 5)),
  };
}

/** A NOTIFY from the presence server in the dialog of the gateway's SUBSCRIBE. */
function notifyFor(subscribe: SipRequest, options: { state?: string; body?: string; contentType?: string; event?: string } = {}): SipRequest {
  const headers = new SipHeaders([
    ["Via", "SIP/2.0/UDP 127.0.0.4:5060;branch=z9hG4bKn1"],
    ["From", `${subscribe.headers.get("to") ?? ""};tag=ps-tag`],
    ["To", subscribe.headers.get("from") ?? ""],
    ["Call-ID", subscribe.headers.get("call-id") ?? ""],
    ["CSeq", "1 NOTIFY"],
    ["Event", options.event ?? "presence"],
    ["Subscription-State", options.state ?? "active;expires=3600"],
  ]);
  if (options.body !== undefined) headers.append("Content-Type", options.contentType ?? "application/pidf+xml");
  return { kind: "request", method: "NOTIFY", uri: OUR_CONTACT, headers, body: Buffer.from(options.body ?? "", "utf8") };
}

/** Romeo's phone subscribing to a contact through the proxy (which record-routes). */
function watcherSubscribe(to: string, options: { expires?: string; event?: string; from?: string; toTag?: string; callId?: string } = {}): SipRequest {
  return {
    kind: "request",
    method: "SUBSCRIBE",
    uri: options.toTag ? OUR_CONTACT : `sip:${to}`,
    headers: new SipHeaders([
      ["Via", "SIP/2.0/UDP 127.0.0.4:5060;branch=z9hG4bKp"],
      ["Via", "SIP/2.0/UDP 127.0.0.5:5090;branch=z9hG4bKa"],
      ["Record-Route", "<sip:127.0.0.4;lr>"],
      ["From", `<sip:${options.from ?? ROMEO}>;tag=phone1`],
      ["To", options.toTag ? `<sip:${to}>;tag=${options.toTag}` : `<sip:${to}>`],
      ["Call-ID", options.callId ?? "watch-1"],
      ["CSeq", "1 SUBSCRIBE"],
      ["Contact", "<sip:romeo@127.0.0.5:5090>"],
      ["Event", options.event ?? "presence"],
      ["Expires", options.expires ?? "600"],
    ]),
    body: Buffer.alloc(0),
  };
}

const presenceOf = (s: OutboundStanza | undefined) => s?.xml ?? "";

test("Alice (Federated) asks to see Romeo: approved at once, the gateway SUBSCRIBEs on her behalf, and Romeo's away with note reaches her", async () => {
  const f = fixture();
  assert.equal((await f.fromXmpp(`${ALICE}/phone`, `<presence type='subscribe' to='${ROMEO}'/>`, "federated")).outcome, "delivered");
  assert.match(presenceOf(f.xmpp[0]), /type="subscribed"/);
  assert.equal(f.xmpp[0]?.remoteDomain, "prosody.test");
  const subscribe = f.sent[0];
  assert.ok(subscribe);
  assert.equal(subscribe.method, "SUBSCRIBE");
  assert.equal(subscribe.uri, `sip:${ROMEO}`);
  assert.match(subscribe.headers.get("from") ?? "", /^<sip:alice@prosody\.test>;tag=/);
  assert.equal(subscribe.headers.get("event"), "presence");
  assert.equal(subscribe.headers.get("expires"), "3600");
  assert.equal((await f.store.get(ROMEO, ALICE))?.state, "from");

  const answer = await f.service.fromSip(notifyFor(subscribe, { body: pidf("open", "Out to lunch", "lunch") }));
  assert.equal(answer.status, 200);
  await f.settle();
  const last = presenceOf(f.xmpp.at(-1));
  assert.match(last, /^<presence from="romeo@gateway.test" to="alice@prosody.test" id="[^"]+"><show>away<\/show><status>Out to lunch<\/status><\/presence>$/);
});

test("Bob (Public verified) is approved at once but never sees Romeo's note", async () => {
  const f = fixture();
  await f.fromXmpp("bob@verified.test/x", `<presence type='subscribe' to='${ROMEO}'/>`, "public-verified");
  const subscribe = f.sent[0];
  assert.ok(subscribe);
  await f.service.fromSip(notifyFor(subscribe, { body: pidf("open", "In the orchard") }));
  await f.settle();
  const last = presenceOf(f.xmpp.at(-1));
  assert.match(last, /^<presence from="romeo@gateway.test" to="bob@verified.test" id="[^"]+"\/>$/);
});

test("Carol (Public unverified) is held: nothing sent either way, probes ignored; an allow-list change releases her", async () => {
  const f = fixture();
  await f.fromXmpp("carol@unverified.test/x", `<presence type='subscribe' to='${ROMEO}'/>`, "public-unverified");
  await f.fromXmpp("carol@unverified.test/x", `<presence type='probe' to='${ROMEO}'/>`, "public-unverified");
  assert.equal(f.xmpp.length, 0);
  assert.equal(f.sent.length, 0);
  assert.deepEqual(await f.store.held(ROMEO), ["carol@unverified.test"]);
  assert.ok(f.events.some((e) => e.kind === "hold"));
  await f.service.allowListChanged(ROMEO);
  await f.settle();
  assert.match(presenceOf(f.xmpp[0]), /type="subscribed"/);
  assert.equal(f.sent[0]?.method, "SUBSCRIBE");
  assert.deepEqual(await f.store.held(ROMEO), []);
});

test("with tellUserOfRequests, the user gets one MESSAGE from the contact's address per held request, not per repeat", async () => {
  const f = fixture({ tellUserOfRequests: true });
  await f.fromXmpp("carol@unverified.test/x", `<presence type='subscribe' to='${ROMEO}'/>`, "public-unverified");
  await f.fromXmpp("carol@unverified.test/x", `<presence type='subscribe' to='${ROMEO}'/>`, "public-unverified");
  await f.settle();
  const notices = f.sent.filter((r) => r.method === "MESSAGE");
  assert.equal(notices.length, 1);
  assert.equal(notices[0]?.uri, "sip:romeo@gateway.test");
  assert.match(notices[0]?.headers.get("from") ?? "", /^<sip:carol@unverified\.test>;tag=/);
  assert.match(notices[0]?.body.toString("utf8") ?? "", /carol@unverified\.test would like to see your presence\. Add carol@unverified\.test to your contacts/);
  assert.equal(f.sent.filter((r) => r.method !== "MESSAGE").length, 0, "nothing else leaves while held");
  assert.equal(f.xmpp.length, 0);
  assert.ok(f.events.some((e) => e.kind === "request-notice" && e.outcome === "ok"));
});

test("an allow-list change that does not authorise the contact keeps it held", async () => {
  const f = fixture({ status: { v: 1, authorised: false, xmppAccess: true, partnerType: "public-unverified" } });
  await f.fromXmpp("carol@unverified.test/x", `<presence type='subscribe' to='${ROMEO}'/>`, "public-unverified");
  await f.service.allowListChanged(ROMEO);
  assert.equal(f.xmpp.length, 0);
  assert.deepEqual(await f.store.held(ROMEO), ["carol@unverified.test"]);
});

test("a Public unverified contact already on the allow-list is approved at once", async () => {
  const f = fixture();
  await f.fromXmpp("carol@unverified.test/x", `<presence type='subscribe' to='${ROMEO}'/>`, "public-unverified", true);
  assert.match(presenceOf(f.xmpp[0]), /type="subscribed"/);
  assert.equal(f.sent[0]?.method, "SUBSCRIBE");
});

test("bad NOTIFYs: unknown dialog 481, other event 489, not PIDF 415, malformed PIDF 400, too large 413; nothing reaches the contact", async () => {
  const f = fixture();
  await f.fromXmpp(`${ALICE}/phone`, `<presence type='subscribe' to='${ROMEO}'/>`, "federated");
  const subscribe = f.sent[0];
  assert.ok(subscribe);
  const before = f.xmpp.length;
  const stray = notifyFor(subscribe, { body: pidf("open") });
  stray.headers.set("Call-ID", "nobody-knows-me");
  assert.equal((await f.service.fromSip(stray)).status, 481);
  const other = await f.service.fromSip(notifyFor(subscribe, { event: "dialog", body: "<dialog-info/>" }));
  assert.equal(other.status, 489);
  assert.deepEqual(other.headers, [["Allow-Events", "presence"]]);
  assert.equal((await f.service.fromSip(notifyFor(subscribe, { body: "hello", contentType: "text/plain" }))).status, 415);
  assert.equal((await f.service.fromSip(notifyFor(subscribe, { body: "<presence xmlns='urn:ietf:params:xml:ns:pidf'><tuple>" }))).status, 400);
  assert.equal((await f.service.fromSip(notifyFor(subscribe, { body: '<!DOCTYPE x [<!ENTITY a "b">]><presence/>' }))).status, 400);
  assert.equal((await f.service.fromSip(notifyFor(subscribe, { body: pidf("open", "x".repeat(5000)) }))).status, 413);
  await f.settle();
  assert.equal(f.xmpp.length, before);
  assert.ok(f.events.filter((e) => e.kind === "notify" && e.outcome === "refused").length >= 6);
});

test("Romeo's phone watches Alice: 202 with a To-tag, NOTIFY pending through the proxy, subscribe to Alice; her approval and presence → NOTIFY active with PIDF", async () => {
  const f = fixture();
  const answer = await f.service.fromSip(watcherSubscribe(ALICE));
  assert.equal(answer.status, 202);
  assert.ok(answer.toTag);
  assert.deepEqual(answer.headers, [["Expires", "600"], ["Contact", `<${OUR_CONTACT}>`], ["Record-Route", "<sip:127.0.0.4;lr>"]]);
  await answer.after?.();
  assert.match(presenceOf(f.xmpp[0]), /^<presence from="romeo@gateway.test" to="alice@prosody.test" id="[^"]+" type="subscribe"\/>$/);
  const pending = f.sent[0];
  assert.ok(pending);
  assert.equal(pending.method, "NOTIFY");
  assert.equal(pending.uri, "sip:romeo@127.0.0.5:5090");
  assert.equal(pending.headers.get("route"), "<sip:127.0.0.4;lr>");
  assert.equal(pending.headers.get("call-id"), "watch-1");
  assert.equal(parseNameAddr(pending.headers.get("from") ?? "").params.get("tag"), answer.toTag);
  assert.equal(parseNameAddr(pending.headers.get("to") ?? "").params.get("tag"), "phone1");
  assert.match(pending.headers.get("subscription-state") ?? "", /^pending;expires=600$/);

  await f.fromXmpp(`${ALICE}/phone`, `<presence type='subscribed' to='${ROMEO}'/>`, "federated");
  await f.fromXmpp(`${ALICE}/phone`, `<presence to='${ROMEO}'><show>dnd</show><status>In a meeting</status></presence>`, "federated");
  const active = f.sent.at(-1);
  assert.ok(active);
  assert.match(active.headers.get("subscription-state") ?? "", /^active;expires=600$/);
  const body = active.body.toString("utf8");
  assert.match(body, /<basic>open<\/basic>/);
  assert.match(body, /<rpid:busy\/>/);
  assert.match(body, /<note>In a meeting<\/note>/);
  assert.match(body, /entity="sip:alice@prosody.test"/);
  assert.equal(f.sent.filter((r) => r.method === "NOTIFY").length, 3);
});

test("the contact's presence handled before its 'subscribed' is kept and sent with the activation", async () => {
  const f = fixture();
  const answer = await f.service.fromSip(watcherSubscribe(ALICE));
  await answer.after?.();
  await f.fromXmpp(`${ALICE}/phone`, `<presence to='${ROMEO}'/>`, "federated");
  assert.equal(f.sent.filter((r) => r.method === "NOTIFY").length, 1, "still pending: no presence leaves");
  await f.fromXmpp(`${ALICE}/phone`, `<presence type='subscribed' to='${ROMEO}'/>`, "federated");
  assert.match(f.sent.at(-1)?.body.toString("utf8") ?? "", /<basic>open<\/basic>/);
});

test("a Public verified contact's note never reaches Romeo's phone either", async () => {
  const f = fixture({ verdict: { v: 1, allowed: true, partnerType: "public-verified" } });
  await (await f.service.fromSip(watcherSubscribe("bob@verified.test"))).after?.();
  await f.fromXmpp("bob@verified.test/x", `<presence type='subscribed' to='${ROMEO}'/>`, "public-verified");
  await f.fromXmpp("bob@verified.test/x", `<presence to='${ROMEO}'><status>secret</status></presence>`, "public-verified");
  const body = f.sent.at(-1)?.body.toString("utf8") ?? "";
  assert.match(body, /<basic>open<\/basic>/);
  assert.doesNotMatch(body, /secret/);
});

test("bad SUBSCRIBEs: other event 489, bad Expires 400, a watcher not of ours 403, policy's refusal mapped, unknown dialog 481", async () => {
  const f = fixture();
  const other = await f.service.fromSip(watcherSubscribe(ALICE, { event: "dialog" }));
  assert.equal(other.status, 489);
  assert.deepEqual(other.headers, [["Allow-Events", "presence"]]);
  assert.equal((await f.service.fromSip(watcherSubscribe(ALICE, { expires: "soon" }))).status, 400);
  assert.equal((await f.service.fromSip(watcherSubscribe(ALICE, { from: "mallory@elsewhere.test" }))).status, 403);
  assert.equal((await f.service.fromSip(watcherSubscribe(ALICE, { toTag: "nope", callId: "unknown" }))).status, 481);
  const refused = fixture({ verdict: { v: 1, allowed: false, error: { type: "auth", condition: "forbidden", text: "no XMPP access" } } });
  assert.equal((await refused.service.fromSip(watcherSubscribe(ALICE))).status, 403);
  assert.equal(f.xmpp.length + refused.xmpp.length, 0);
});

test("Romeo's phone refreshes (200 and a NOTIFY), then unsubscribes: NOTIFY terminated and <presence type='unsubscribe'/> to Alice", async () => {
  const f = fixture();
  const first = await f.service.fromSip(watcherSubscribe(ALICE));
  await first.after?.();
  const refresh = await f.service.fromSip(watcherSubscribe(ALICE, { toTag: first.toTag ?? "", expires: "900" }));
  assert.equal(refresh.status, 200);
  assert.deepEqual(refresh.headers?.[0], ["Expires", "900"]);
  await refresh.after?.();
  assert.equal(f.sent.at(-1)?.method, "NOTIFY");
  const bye = await f.service.fromSip(watcherSubscribe(ALICE, { toTag: first.toTag ?? "", expires: "0" }));
  assert.equal(bye.status, 200);
  await bye.after?.();
  await f.settle();
  assert.match(presenceOf(f.xmpp.at(-1)), /type="unsubscribe"/);
  assert.match(f.sent.at(-1)?.headers.get("subscription-state") ?? "", /^terminated/);
  assert.equal((await f.store.get(ROMEO, ALICE))?.watcher, undefined);
});

test("refreshes: the gateway's SUBSCRIBE is renewed in its dialog before it expires; a watcher that does not refresh is ended; watched contacts are probed again", async () => {
  const f = fixture({ subscribeExpires: 100, probeIntervalMs: 200_000 });
  await f.fromXmpp(`${ALICE}/phone`, `<presence type='subscribe' to='${ROMEO}'/>`, "federated");
  const first = f.sent[0];
  assert.ok(first);
  assert.equal(await f.service.sweep(), 0, "nothing due yet");
  f.tick(81_000);
  assert.equal(await f.service.sweep(), 1);
  const renewal = f.sent.at(-1);
  assert.ok(renewal);
  assert.equal(renewal.method, "SUBSCRIBE");
  assert.equal(renewal.uri, PRESENCE_SERVER, "sent to the presence server's Contact");
  assert.equal(renewal.headers.get("call-id"), first.headers.get("call-id"));
  assert.equal(renewal.headers.get("cseq"), "2 SUBSCRIBE");
  assert.match(renewal.headers.get("to") ?? "", /;tag=ps-tag$/);

  // Romeo watches Alice (to), does not refresh: ended with terminated;reason=timeout.
  const w = await f.service.fromSip(watcherSubscribe(ALICE, { expires: "60" }));
  await w.after?.();
  await f.fromXmpp(`${ALICE}/phone`, `<presence type='subscribed' to='${ROMEO}'/>`, "federated");
  f.tick(61_000);
  await f.service.sweep();
  const ended = f.sent.filter((r) => r.method === "NOTIFY").at(-1);
  assert.equal(ended?.headers.get("subscription-state"), "terminated;reason=timeout");
  f.tick(200_000);
  await f.service.sweep();
  await f.settle();
  assert.match(presenceOf(f.xmpp.at(-1)), /type="probe"/);
});

test("the presence server refuses the gateway's SUBSCRIBE: retried with backoff until it takes it", async () => {
  let refuse = true;
  const f = fixture({
    answer: (r) => ({ response: createResponse(r, refuse ? 500 : 202, { toTag: "t", headers: refuse ? [] : [["Expires", "3600"]] }), source: "network" }),
  });
  await f.fromXmpp(`${ALICE}/phone`, `<presence type='subscribe' to='${ROMEO}'/>`, "federated");
  assert.ok(f.events.some((e) => e.kind === "watch" && e.outcome === "failed"));
  refuse = false;
  f.tick(2_500);
  await f.service.sweep();
  assert.equal(f.sent.filter((r) => r.method === "SUBSCRIBE").length, 2);
  assert.ok((await f.store.get(ROMEO, ALICE))?.watch?.toTag === "t");
});

test("Romeo revokes at the presence server (terminated;reason=rejected): Alice gets unsubscribed and unavailable", async () => {
  const f = fixture();
  await f.fromXmpp(`${ALICE}/phone`, `<presence type='subscribe' to='${ROMEO}'/>`, "federated");
  const subscribe = f.sent[0];
  assert.ok(subscribe);
  assert.equal((await f.service.fromSip(notifyFor(subscribe, { state: "terminated;reason=rejected" }))).status, 200);
  await f.settle();
  const types = f.xmpp.map((s) => /type="([^"]+)"/.exec(s.xml)?.[1]);
  assert.deepEqual(types.slice(-2), ["unavailable", "unsubscribed"]);
  assert.equal((await f.store.get(ROMEO, ALICE))?.state, undefined, "back to none: the record is gone");
});

test("presence from a contact Romeo does not watch, and probes from one he did not approve, leak nothing", async () => {
  const f = fixture();
  assert.equal((await f.fromXmpp("prosody.test", `<presence type='subscribe' to='${ROMEO}'/>`, "federated")).outcome, "ignored", "a server has no presentity");
  assert.equal((await f.fromXmpp(`${ALICE}/phone`, `<presence to='${ROMEO}'/>`, "federated")).outcome, "ignored");
  await f.fromXmpp(`${ALICE}/phone`, `<presence type='probe' to='${ROMEO}'/>`, "federated");
  assert.equal(f.xmpp.length + f.sent.length, 0);
});

test("at most maxHeldPerUser requests wait for one user: a third stranger is not kept (refused, logged)", async () => {
  const f = fixture();
  for (const who of ["c1", "c2", "c3"]) await f.fromXmpp(`${who}@unverified.test/x`, `<presence type='subscribe' to='${ROMEO}'/>`, "public-unverified");
  assert.deepEqual(await f.store.held(ROMEO), ["c1@unverified.test", "c2@unverified.test"]);
  assert.equal(await f.store.get(ROMEO, "c3@unverified.test"), undefined);
  assert.ok(f.events.some((e) => e.kind === "hold" && e.outcome === "refused" && e.contact === "c3@unverified.test"));
  assert.equal(f.xmpp.length + f.sent.length, 0);
});

test("Juliet takes Carol (Public unverified) off her allow-list: Carol's subscription is revoked (unsubscribed, unavailable, watch ended)", async () => {
  let authorised = true;
  const f = fixture({ contactStatus: async () => ({ v: 1, authorised, xmppAccess: true, partnerType: "public-unverified" }) });
  await f.fromXmpp("carol@unverified.test/x", `<presence type='subscribe' to='${ROMEO}'/>`, "public-unverified", true);
  assert.equal((await f.store.get(ROMEO, "carol@unverified.test"))?.state, "from");
  await f.service.allowListChanged(ROMEO);
  assert.equal((await f.store.get(ROMEO, "carol@unverified.test"))?.state, "from", "still authorised: nothing changes");
  authorised = false;
  await f.service.allowListChanged(ROMEO);
  await f.settle();
  assert.deepEqual(f.xmpp.slice(-2).map((s) => /type="([^"]+)"/.exec(s.xml)?.[1]), ["unavailable", "unsubscribed"]);
  assert.equal(f.sent.at(-1)?.headers.get("expires"), "0");
  assert.equal(await f.store.get(ROMEO, "carol@unverified.test"), undefined);
});

test("an out-of-dialog SUBSCRIBE with Expires: 0 is a fetch (RFC 6665 §4.4.3): 200, one NOTIFY terminated with the current PIDF, no XMPP stanza", async () => {
  const f = fixture();
  await (await f.service.fromSip(watcherSubscribe(ALICE))).after?.();
  await f.fromXmpp(`${ALICE}/phone`, `<presence type='subscribed' to='${ROMEO}'/>`, "federated");
  await f.fromXmpp(`${ALICE}/phone`, `<presence to='${ROMEO}'><show>away</show></presence>`, "federated");
  const stanzas = f.xmpp.length;
  const fetch = await f.service.fromSip(watcherSubscribe(ALICE, { expires: "0", callId: "fetch-1" }));
  assert.equal(fetch.status, 200);
  assert.ok(fetch.toTag);
  await fetch.after?.();
  const notify = f.sent.at(-1);
  assert.equal(notify?.headers.get("call-id"), "fetch-1");
  assert.equal(notify?.headers.get("cseq"), "1 NOTIFY");
  assert.equal(notify?.headers.get("subscription-state"), "terminated;reason=timeout");
  assert.match(notify?.body.toString("utf8") ?? "", /<rpid:away\/>/);
  assert.equal(f.xmpp.length, stanzas);
  assert.equal((await f.store.get(ROMEO, ALICE))?.state, "to", "the subscription is untouched");
});
