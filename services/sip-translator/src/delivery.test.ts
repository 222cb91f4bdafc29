import { test } from "node:test";
import assert from "node:assert/strict";
import type { SipDeliveryRequest } from "@passerelle/contracts";
import { createResponse, parseMessage, serializeMessage, SipEndpoint, SipHeaders, type SipRequest } from "@passerelle/sip";
import { UdpTransport, TcpTransport } from "@passerelle/sip/io";
import { SipSide } from "./adapters/sip-side.ts";
import { DeliveryHandler, type DeliveryOptions } from "./delivery.ts";
import { AddressMapper } from "./domain/address-mapping.ts";

const limits = { maxStanzaBytes: 65536, maxDepth: 16, maxAttributesPerElement: 16, maxHeaderBytes: 4096 };
const base = (send: DeliveryOptions["send"]): DeliveryOptions => ({
  mapper: new AddressMapper([{ xmpp: "contoso.com", sip: "sip.contoso.com" }]),
  gatewayHost: "gw.test",
  stanzaLimits: limits,
  maxSipBytes: 65536,
  send,
});
const req = (xml: string, extra: Partial<SipDeliveryRequest> = {}): SipDeliveryRequest => ({
  v: 1, id: "d1", kind: "message", type: "chat", from: "romeo@partner.example/orchard", to: "juliet@contoso.com", sipDomain: "sip.contoso.com", xml, ...extra,
});
const CHAT = `<message xmlns='jabber:server' type='chat' id='m1' from='romeo@partner.example/orchard' to='juliet@contoso.com'><body>hi</body></message>`;

test("2xx → delivered", async () => {
  const sent: SipRequest[] = [];
  const h = new DeliveryHandler(base(async (r) => {
    sent.push(r);
    return { response: createResponse(r, 200), source: "network" };
  }));
  assert.deepEqual(await h.deliver(req(CHAT)), { v: 1, id: "d1", outcome: "delivered", sipStatus: 200, sipReason: "OK" });
  assert.equal(sent[0]!.uri, "sip:juliet@sip.contoso.com");
});

test("4xx/5xx/6xx and the local 408 → failed with the RFC 7247 error", async () => {
  for (const [status, condition] of [[404, "item-not-found"], [480, "recipient-unavailable"], [503, "service-unavailable"], [603, "service-unavailable"], [408, "remote-server-timeout"]] as const) {
    const h = new DeliveryHandler(base(async (r) => ({ response: createResponse(r, status), source: status === 408 ? "timeout" : "network" })));
    const out = await h.deliver(req(CHAT));
    assert.equal(out.outcome, "failed");
    assert.equal(out.sipStatus, status);
    assert.equal(out.error?.condition, condition);
  }
});

test("bad JID → jid-malformed; no body → ignored; broken XML → bad-request; presence → ignored; a throwing sender → internal-server-error", async () => {
  const h = new DeliveryHandler(base(async (r) => ({ response: createResponse(r, 200), source: "network" })));
  assert.equal((await h.deliver(req(CHAT, { to: "@contoso.com" }))).error?.condition, "jid-malformed");
  assert.equal((await h.deliver(req(`<message type='chat'/>`))).outcome, "ignored");
  assert.equal((await h.deliver(req(`<message><body>x</message>`))).error?.condition, "bad-request");
  assert.equal((await h.deliver(req(`<!DOCTYPE x><message/>`))).error?.condition, "bad-request");
  assert.equal((await h.deliver(req(`<presence/>`, { kind: "presence" }))).outcome, "ignored");
  const boom = new DeliveryHandler(base(async () => {
    throw new Error("boom");
  }));
  assert.equal((await boom.deliver(req(CHAT))).error?.condition, "internal-server-error");
});

test("a message too large for SIP → policy-violation", async () => {
  const h = new DeliveryHandler({ ...base(async (r) => ({ response: createResponse(r, 200), source: "network" })), maxSipBytes: 2000 });
  const out = await h.deliver(req(`<message type='chat'><body>${"x".repeat(3000)}</body></message>`));
  assert.equal(out.error?.condition, "policy-violation");
});

for (const transport of ["udp", "tcp"] as const) {
  test(`real sockets (${transport}): the translator's SIP side sends a MESSAGE to a SIP UAS on 127.0.0.1`, async () => {
    const uas = new SipEndpoint();
    const listen = transport === "tcp" ? TcpTransport.listen.bind(TcpTransport) : UdpTransport.listen.bind(UdpTransport);
    const uasTransport = await listen({ host: "127.0.0.1", port: 0 }, uas.transportEvents);
    uas.attach(uasTransport);
    const received: SipRequest[] = [];
    uas.onRequest((r, respond) => {
      received.push(r);
      void respond(createResponse(r, r.uri.startsWith("sip:juliet@") ? 200 : 404));
    });
    const side = await SipSide.start({
      listen: { host: "127.0.0.1", port: 0, transport },
      proxy: { host: "127.0.0.1", port: uasTransport.local.port, transport },
      timeoutMs: 2000,
    });
    try {
      const h = new DeliveryHandler(base((r) => side.send(r)));
      assert.equal((await h.deliver(req(CHAT))).outcome, "delivered");
      const nobody = await h.deliver(req(CHAT, { to: "nobody@contoso.com" }));
      assert.equal(nobody.error?.condition, "item-not-found");
      const m = parseMessage(serializeMessage(received[0]!));
      assert.equal(m.headers.get("content-type"), "text/plain;charset=UTF-8");
      assert.equal(m.body.toString(), "hi");
      assert.match(m.headers.get("from")!, /^<sip:romeo@partner\.example;gr=orchard>;tag=[0-9a-f]{16}$/);
    } finally {
      await side.stop();
      uas.shutdown();
      await uasTransport.close();
    }
  });
}

test("presence goes to the presence service (RFC 8048); a broken presence stanza → bad-request before it", async () => {
  const seen: SipDeliveryRequest[] = [];
  const h = new DeliveryHandler({
    ...base(async (r) => ({ response: createResponse(r, 200), source: "network" })),
    presence: {
      fromXmpp: async (request) => {
        seen.push(request);
        return { v: 1, id: request.id, outcome: "delivered" };
      },
    },
  });
  assert.equal((await h.deliver(req(`<presence type='subscribe'/>`, { kind: "presence", type: "subscribe", partnerType: "federated" }))).outcome, "delivered");
  assert.equal(seen[0]?.partnerType, "federated");
  assert.equal((await h.deliver(req(`<presence><status>x</presence>`, { kind: "presence" }))).error?.condition, "bad-request");
  assert.equal((await h.deliver(req(`<iq type='get'/>`, { kind: "iq" }))).outcome, "ignored");
  assert.equal(seen.length, 1);
});

test("real sockets: a SUBSCRIBE reaches onPresence, is answered with its To-tag and headers, and its follow-up runs after the answer", async () => {
  const uac = new SipEndpoint();
  const uacTransport = await UdpTransport.listen({ host: "127.0.0.1", port: 0 }, uac.transportEvents);
  uac.attach(uacTransport);
  const order: string[] = [];
  const side = await SipSide.start({
    listen: { host: "127.0.0.1", port: 0, transport: "udp" },
    proxy: { host: "127.0.0.1", port: uacTransport.local.port, transport: "udp" },
    timeoutMs: 2000,
    onPresence: async (r) => {
      order.push(`handled ${r.method}`);
      return { status: 202, reason: "Accepted", toTag: "our-tag", headers: [["Expires", "600"]], after: async () => void order.push("after") };
    },
  });
  try {
    const subscribe: SipRequest = {
      kind: "request",
      method: "SUBSCRIBE",
      uri: "sip:alice@prosody.test",
      headers: new SipHeaders([["From", "<sip:romeo@gateway.test>;tag=a"], ["To", "<sip:alice@prosody.test>"], ["Call-ID", "s1"], ["CSeq", "1 SUBSCRIBE"], ["Event", "presence"], ["Max-Forwards", "70"]]),
      body: Buffer.alloc(0),
    };
    const answer = await uac.request(subscribe, { host: "127.0.0.1", port: side.transport.local.port });
    assert.equal(answer.response.status, 202);
    assert.match(answer.response.headers.get("to") ?? "", /;tag=our-tag$/);
    assert.equal(answer.response.headers.get("expires"), "600");
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(order, ["handled SUBSCRIBE", "after"]);
    // PUBLISH is not ours to serve: 405 with Allow.
    const publish = await uac.request({ ...subscribe, method: "PUBLISH", headers: new SipHeaders([["From", "<sip:x@gateway.test>;tag=b"], ["To", "<sip:x@gateway.test>"], ["Call-ID", "p1"], ["CSeq", "1 PUBLISH"]]) }, { host: "127.0.0.1", port: side.transport.local.port });
    assert.equal(publish.response.status, 405);
    assert.deepEqual(publish.response.headers.getAll("allow"), ["OPTIONS", "SUBSCRIBE", "NOTIFY"]);
  } finally {
    await side.stop();
    uac.shutdown();
    await uacTransport.close();
  }
});

test("XEP-0085 §5.3: a chat state that maps to the isComposing state last sent is not sent again; text resets to idle", async () => {
  const { ChatStateMemory } = await import("./domain/chat-state-memory.ts");
  const sent: string[] = [];
  const h = new DeliveryHandler({
    ...base(async (r) => {
      sent.push(r.body.toString("utf8"));
      return { response: createResponse(r, 200), source: "network" };
    }),
    chatStates: new ChatStateMemory({ ttlMs: 60_000, maxEntries: 100 }),
  });
  const state = (name: string) => req(`<message type='chat' from='romeo@partner.example/orchard' to='juliet@contoso.com'><${name} xmlns='http://jabber.org/protocol/chatstates'/></message>`);
  assert.equal((await h.deliver(state("composing"))).outcome, "delivered");
  assert.equal((await h.deliver(state("composing"))).outcome, "ignored", "composing again: not sent");
  assert.equal((await h.deliver(state("paused"))).outcome, "delivered", "idle after active");
  assert.equal((await h.deliver(state("inactive"))).outcome, "ignored", "inactive is idle too: not sent");
  assert.equal((await h.deliver(state("gone"))).outcome, "ignored");
  assert.equal((await h.deliver(state("composing"))).outcome, "delivered");
  assert.equal((await h.deliver(req(CHAT))).outcome, "delivered", "a text message");
  assert.equal((await h.deliver(state("paused"))).outcome, "ignored", "text implied idle (RFC 3994)");
  assert.equal(sent.length, 4);
  assert.match(sent[0] ?? "", /<state>active<\/state>/);
  assert.match(sent[1] ?? "", /<state>idle<\/state>/);
  assert.match(sent[2] ?? "", /<state>active<\/state>/);
  assert.equal(sent[3], "hi");
});

test("a chat state the SIP side refused is not recorded: the next one is tried again", async () => {
  const { ChatStateMemory } = await import("./domain/chat-state-memory.ts");
  let status = 480;
  const h = new DeliveryHandler({ ...base(async (r) => ({ response: createResponse(r, status), source: "network" })), chatStates: new ChatStateMemory({ ttlMs: 60_000, maxEntries: 100 }) });
  const composing = req(`<message type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`);
  assert.equal((await h.deliver(composing)).outcome, "failed");
  status = 200;
  assert.equal((await h.deliver(composing)).outcome, "delivered");
});
