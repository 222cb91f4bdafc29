import { test } from "node:test";
import assert from "node:assert/strict";
import type { OutboundAuthorizeReply, OutboundAuthorizeRequest, OutboundDeliverReply, OutboundStanza } from "@passerelle/contracts";
import { SipHeaders, type SipRequest } from "@passerelle/sip";
import { AddressMapper } from "./domain/address-mapping.ts";
import { OutboundMessaging, type OutboundOptions } from "./outbound.ts";

function message(body: string, options: { from?: string; to?: string; contentType?: string } = {}): SipRequest {
  const to = options.to ?? "sip:alice@prosody.test";
  return {
    kind: "request",
    method: "MESSAGE",
    uri: to,
    headers: new SipHeaders([
      ["Via", "SIP/2.0/UDP 127.0.0.4:5060;branch=z9hG4bK1"],
      ["From", `<${options.from ?? "sip:romeo@gateway.test"}>;tag=1`],
      ["To", `<${to}>`],
      ["Call-ID", "c1"],
      ["CSeq", "1 MESSAGE"],
      ["Content-Type", options.contentType ?? "text/plain;charset=utf-8"],
    ]),
    body: Buffer.from(body, "utf8"),
  };
}

function fixture(overrides: Partial<OutboundOptions> = {}) {
  const authorized: OutboundAuthorizeRequest[] = [];
  const delivered: OutboundStanza[] = [];
  let n = 0;
  const messaging = new OutboundMessaging({
    mapper: new AddressMapper([{ xmpp: "gateway.test", sip: "gateway.test" }]),
    localDomains: new Set(["gateway.test"]),
    authorize: async (r) => {
      authorized.push(r);
      return { v: 1, allowed: true };
    },
    deliver: async (r) => {
      delivered.push(r);
      return { v: 1, id: r.id, outcome: "sent" };
    },
    newId: () => `id${++n}`,
    maxStanzaBytes: 10_000,
    maxPending: 100,
    ...overrides,
  });
  return { messaging, authorized, delivered };
}

test("an allowed message is handed to the edge as a chat message and answered 200", async () => {
  const { messaging, authorized, delivered } = fixture();
  assert.deepEqual(await messaging.handle(message("Hello Alice ✓")), { status: 200, reason: "OK" });
  assert.deepEqual(authorized[0], { v: 1, id: "id1", kind: "message", type: "chat", from: "romeo@gateway.test", to: "alice@prosody.test" });
  const stanza = delivered[0];
  assert.equal(stanza?.localDomain, "gateway.test");
  assert.equal(stanza?.remoteDomain, "prosody.test");
  assert.match(stanza?.xml ?? "", /^<message type="chat" from="romeo@gateway.test" to="alice@prosody.test" id="id1"><body>Hello Alice ✓<\/body><\/message>$/);
});

test("message/cpim is unwrapped (RFC 7572 §5)", async () => {
  const { messaging, delivered } = fixture();
  const cpim = "From: <sip:romeo@gateway.test>\r\nTo: <sip:alice@prosody.test>\r\n\r\nContent-Type: text/plain\r\n\r\nInside CPIM";
  assert.equal((await messaging.handle(message(cpim, { contentType: "message/cpim" }))).status, 200);
  assert.match(delivered[0]?.xml ?? "", /<body>Inside CPIM<\/body>/);
});

test("a refusal by policy is answered with its RFC 7247 code and nothing reaches the edge", async () => {
  const { messaging, delivered } = fixture({ authorize: async (): Promise<OutboundAuthorizeReply> => ({ v: 1, allowed: false, error: { type: "auth", condition: "forbidden" } }) });
  assert.equal((await messaging.handle(message("no"))).status, 403);
  assert.equal(delivered.length, 0);
});

test("edge failures map to 404 / 408; an edge that does not answer is 408; policy silent is 503", async () => {
  const failing = (condition: string) => async (r: OutboundStanza): Promise<OutboundDeliverReply> => ({ v: 1, id: r.id, outcome: "failed", error: { type: "cancel", condition } });
  assert.equal((await fixture({ deliver: failing("remote-server-not-found") }).messaging.handle(message("x"))).status, 404);
  assert.equal((await fixture({ deliver: failing("remote-server-timeout") }).messaging.handle(message("x"))).status, 408);
  assert.equal((await fixture({ deliver: failing("resource-constraint") }).messaging.handle(message("x"))).status, 500);
  assert.equal((await fixture({ deliver: () => Promise.reject(new Error("TIMEOUT")) }).messaging.handle(message("x"))).status, 408);
  assert.equal((await fixture({ authorize: () => Promise.reject(new Error("TIMEOUT")) }).messaging.handle(message("x"))).status, 503);
});

test("bad input: a sender not at our domains 403, a non-UTF-8 body 400, an unknown type 415, too big 413", async () => {
  const { messaging, authorized } = fixture({ maxStanzaBytes: 300 });
  assert.equal((await messaging.handle(message("x", { from: "sip:mallory@elsewhere.test" }))).status, 403);
  const bad = message("x");
  bad.body = Buffer.from([0xff, 0xfe]);
  assert.equal((await messaging.handle(bad)).status, 400);
  assert.equal((await messaging.handle(message("x", { contentType: "application/octet-stream" }))).status, 415);
  assert.equal((await messaging.handle(message("y".repeat(400)))).status, 413);
  assert.equal(authorized.length, 0);
});

test("messages of one conversation reach the edge in arrival order even when policy answers out of order", async () => {
  let calls = 0;
  const { messaging, delivered } = fixture({
    authorize: async () => {
      calls++;
      // The first authorisation is the slowest.
      await new Promise((r) => setTimeout(r, calls === 1 ? 40 : 1));
      return { v: 1, allowed: true };
    },
  });
  const answers = await Promise.all(["one", "two", "three"].map((b) => messaging.handle(message(b))));
  assert.deepEqual(answers.map((a) => a.status), [200, 200, 200]);
  assert.deepEqual(delivered.map((d) => /<body>(.*)<\/body>/.exec(d.xml)?.[1]), ["one", "two", "three"]);
});

test("more messages in progress than allowed are answered 503", async () => {
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  const { messaging } = fixture({ maxPending: 1, authorize: async () => { await gate; return { v: 1, allowed: true }; } });
  const first = messaging.handle(message("a"));
  assert.equal((await messaging.handle(message("b"))).status, 503);
  release();
  assert.equal((await first).status, 200);
});

test("the authorisations of one conversation are asked without waiting for each other (pipelined), hand-overs still in order", async () => {
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  let asked = 0;
  const { messaging, delivered } = fixture({
    authorize: async () => {
      asked++;
      await gate;
      return { v: 1, allowed: true };
    },
  });
  const answers = Promise.all(["one", "two", "three"].map((b) => messaging.handle(message(b))));
  await new Promise((r) => setImmediate(r));
  assert.equal(asked, 3, "all three asked while the first is unanswered");
  assert.equal(delivered.length, 0);
  release();
  assert.deepEqual((await answers).map((a) => a.status), [200, 200, 200]);
  assert.deepEqual(delivered.map((d) => /<body>(.*)<\/body>/.exec(d.xml)?.[1]), ["one", "two", "three"]);
});

test("XEP-0085 §5.3: RFC 3994 refreshes of active (and a second idle) are answered 200 and not sent again", async () => {
  const { ChatStateMemory } = await import("./domain/chat-state-memory.ts");
  const { delivered, messaging } = fixture({ chatStates: new ChatStateMemory({ ttlMs: 60_000, maxEntries: 100 }) });
  const composing = (state: "active" | "idle") =>
    message(`<?xml version="1.0" encoding="UTF-8"?><isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"><state>${state}</state>${state === "active" ? "<refresh>90</refresh>" : ""}</isComposing>`, { contentType: "application/im-iscomposing+xml" });
  for (const [request, status] of [
    [composing("active"), 200],
    [composing("active"), 200], // a refresh
    [composing("idle"), 200],
    [composing("idle"), 200],
    [composing("active"), 200],
    [message("hello"), 200],
    [composing("idle"), 200], // text already ended composing
  ] as const) {
    assert.equal((await messaging.handle(request)).status, status);
  }
  const sent = delivered.map((d) => /<(composing|paused|body)\b/.exec(d.xml)?.[1]);
  assert.deepEqual(sent, ["composing", "paused", "composing", "body"]);
});
