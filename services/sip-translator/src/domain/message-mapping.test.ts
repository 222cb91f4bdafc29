import { test } from "node:test";
import assert from "node:assert/strict";
import { StreamParser, type Element } from "@passerelle/xmpp";
import { SipHeaders, serializeMessage, type SipRequest } from "@passerelle/sip";
import { AddressMapper } from "./address-mapping.ts";
import { buildSipMessage, sipMessageToXmpp, xmppMessageToSip, type XmppToSipContext } from "./message-mapping.ts";

function parse(xmlText: string): Element {
  let out: Element | undefined;
  const p = new StreamParser(
    { maxStanzaBytes: 65536, maxDepth: 16, maxAttributesPerElement: 16, maxHeaderBytes: 4096 },
    { onStreamStart: () => {}, onElement: (el) => (out = el), onStreamEnd: () => {}, onError: (e) => assert.fail(e.message) },
  );
  p.write(`<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'>${xmlText}`);
  assert.ok(out);
  return out;
}

const mapper = new AddressMapper([{ xmpp: "contoso.com", sip: "sip.contoso.com" }]);
const ctx: XmppToSipContext = {
  mapper,
  from: "romeo@partner.example/orchard",
  to: "juliet@contoso.com",
  gatewayHost: "gw.contoso.com",
  fromTag: "t1",
  newCallId: () => "fixed-call@gw.contoso.com",
};

test("chat message → SIP MESSAGE, golden (RFC 7572 §4)", () => {
  const r = xmppMessageToSip(parse(`<message type='chat' id='m1' from='romeo@partner.example/orchard' to='juliet@contoso.com'><body>Art thou not Romeo, &amp; a Montague?</body></message>`), ctx);
  assert.equal(r.outcome, "send");
  if (r.outcome !== "send") return;
  assert.equal(r.draft.xmppId, "m1");
  assert.equal(
    serializeMessage(buildSipMessage(r.draft)).toString(),
    [
      "MESSAGE sip:juliet@sip.contoso.com SIP/2.0",
      "Max-Forwards: 70",
      "From: <sip:romeo@partner.example;gr=orchard>;tag=t1",
      "To: <sip:juliet@sip.contoso.com>",
      "Call-ID: fixed-call@gw.contoso.com",
      "CSeq: 1 MESSAGE",
      "Content-Type: text/plain;charset=UTF-8",
      "Content-Length: 33",
      "",
      "Art thou not Romeo, & a Montague?",
    ].join("\r\n"),
  );
});

test("normal type and a missing type both go; subject → Subject; default-language body chosen", () => {
  const r = xmppMessageToSip(parse(`<message><subject>Hi\nthere</subject><body xml:lang='fr'>Salut</body><body>Hello</body></message>`), ctx);
  assert.equal(r.outcome, "send");
  if (r.outcome === "send") {
    assert.equal(r.draft.body, "Hello");
    assert.equal(r.draft.subject, "Hi there");
  }
  assert.equal(xmppMessageToSip(parse(`<message type='normal'><body>x</body></message>`), ctx).outcome, "send");
});

test("a thread keeps one Call-ID; without one each message gets a new one", () => {
  const a = xmppMessageToSip(parse(`<message type='chat'><body>1</body><thread>th-1</thread></message>`), ctx);
  const b = xmppMessageToSip(parse(`<message type='chat'><body>2</body><thread>th-1</thread></message>`), ctx);
  const c = xmppMessageToSip(parse(`<message type='chat'><body>3</body><thread>th-2</thread></message>`), ctx);
  assert.ok(a.outcome === "send" && b.outcome === "send" && c.outcome === "send");
  assert.equal(a.draft.callId, b.draft.callId);
  assert.notEqual(a.draft.callId, c.draft.callId);
  assert.match(a.draft.callId, /^[0-9a-f]{32}@gw\.contoso\.com$/);
});

test("no body and no chat state → ignored (chat states: chat-states.test.ts)", () => {
  const r = xmppMessageToSip(parse(`<message type='chat'><received xmlns='urn:xmpp:receipts' id='x'/></message>`), ctx);
  assert.deepEqual(r, { outcome: "ignored", reason: "no body" });
  assert.equal(xmppMessageToSip(parse(`<message type='chat'><body/></message>`), ctx).outcome, "ignored");
});

test("error and headline → ignored; groupchat → service-unavailable", () => {
  assert.equal(xmppMessageToSip(parse(`<message type='error'><body>x</body></message>`), ctx).outcome, "ignored");
  assert.equal(xmppMessageToSip(parse(`<message type='headline'><body>x</body></message>`), ctx).outcome, "ignored");
  const g = xmppMessageToSip(parse(`<message type='groupchat'><body>x</body></message>`), ctx);
  assert.ok(g.outcome === "failed" && g.error.condition === "service-unavailable" && g.error.type === "cancel");
});

test("an unmappable recipient → jid-malformed", () => {
  const r = xmppMessageToSip(parse(`<message type='chat'><body>x</body></message>`), { ...ctx, to: "contoso.com" });
  assert.ok(r.outcome === "failed" && r.error.condition === "jid-malformed" && r.error.type === "modify");
});

function sipRequest(contentType: string, body: string, from = "<sip:juliet@sip.contoso.com>;tag=9"): SipRequest {
  return {
    kind: "request",
    method: "MESSAGE",
    uri: "sip:romeo@partner.example;gr=orchard",
    headers: new SipHeaders([["From", from], ["To", "<sip:romeo@partner.example>"], ["Call-ID", "c"], ["CSeq", "1 MESSAGE"], ["Content-Type", contentType]]),
    body: Buffer.from(body),
  };
}

test("SIP MESSAGE text/plain → <message type='chat'> (RFC 7572 §5), golden", () => {
  const r = sipMessageToXmpp(sipRequest("text/plain; charset=utf-8", "I <3 you\r\n"), mapper, { id: "s1" });
  assert.equal(r.outcome, "stanza");
  if (r.outcome === "stanza") {
    assert.equal(r.stanza.toString(), `<message type="chat" from="juliet@contoso.com" to="romeo@partner.example/orchard" id="s1"><body>I &lt;3 you\n</body></message>`);
  }
});

test("message/cpim is unwrapped (RFC 3862 §3)", () => {
  const cpim = ["From: Juliet <im:juliet@contoso.com>", "To: <im:romeo@partner.example>", "DateTime: 2024-01-01T00:00:00Z", "", "Content-Type: text/plain; charset=utf-8", "", "Wherefore art thou"].join("\r\n");
  const r = sipMessageToXmpp(sipRequest("message/cpim", cpim), mapper, { id: "s2" });
  assert.ok(r.outcome === "stanza");
  assert.equal(r.stanza.getChildText("body"), "Wherefore art thou");
});

test("other content types → 415; bad sender → 400", () => {
  assert.deepEqual(sipMessageToXmpp(sipRequest("text/html", "<b>x</b>"), mapper, { id: "x" }), { outcome: "rejected", status: 415, reason: "Unsupported Media Type" });
  assert.equal(sipMessageToXmpp(sipRequest("text/plain;charset=iso-8859-1", "x"), mapper, { id: "x" }).outcome, "rejected");
  const bad = sipMessageToXmpp(sipRequest("text/plain", "x", "<sip:192.0.2.1>"), mapper, { id: "x" });
  assert.ok(bad.outcome === "rejected" && bad.status === 400);
});
