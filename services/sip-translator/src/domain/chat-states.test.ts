// Golden tests of the XEP-0085 ↔ RFC 3994 mapping, both ways, and of hostile isComposing documents.
import { test } from "node:test";
import assert from "node:assert/strict";
import { StreamParser, type Element } from "@passerelle/xmpp";
import { SipHeaders, serializeMessage, type SipRequest } from "@passerelle/sip";
import { AddressMapper } from "./address-mapping.ts";
import { buildIsComposing, parseIsComposing, IsComposingError } from "./chat-states.ts";
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

const CS = "http://jabber.org/protocol/chatstates";
const mapper = new AddressMapper([{ xmpp: "contoso.com", sip: "sip.contoso.com" }]);
const ctx: XmppToSipContext = {
  mapper,
  from: "romeo@partner.example/orchard",
  to: "juliet@contoso.com",
  gatewayHost: "gw.contoso.com",
  fromTag: "t1",
  newCallId: () => "fixed-call@gw.contoso.com",
};
const ACTIVE = `<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"><state>active</state><refresh>90</refresh></isComposing>`;
const IDLE = `<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"><state>idle</state></isComposing>`;

test("XEP-0085 <composing/> alone → SIP MESSAGE with isComposing active, refresh 90, golden (RFC 3994 §4)", () => {
  const r = xmppMessageToSip(parse(`<message type='chat' id='c1'><composing xmlns='${CS}'/></message>`), ctx);
  assert.equal(r.outcome, "send");
  if (r.outcome !== "send") return;
  assert.equal(
    serializeMessage(buildSipMessage(r.draft)).toString(),
    [
      "MESSAGE sip:juliet@sip.contoso.com SIP/2.0",
      "Max-Forwards: 70",
      "From: <sip:romeo@partner.example;gr=orchard>;tag=t1",
      "To: <sip:juliet@sip.contoso.com>",
      "Call-ID: fixed-call@gw.contoso.com",
      "CSeq: 1 MESSAGE",
      "Content-Type: application/im-iscomposing+xml",
      `Content-Length: ${ACTIVE.length}`,
      "",
      ACTIVE,
    ].join("\r\n"),
  );
});

test("paused, active, inactive, gone → isComposing idle, no refresh (RFC 3994 §3 has only two states)", () => {
  for (const state of ["paused", "active", "inactive", "gone"]) {
    const r = xmppMessageToSip(parse(`<message type='chat'><${state} xmlns='${CS}'/></message>`), ctx);
    assert.ok(r.outcome === "send", state);
    assert.equal(r.draft.body, IDLE, state);
    assert.equal(r.draft.contentType, "application/im-iscomposing+xml");
  }
});

test("a body with a chat state → only the body, as text/plain (RFC 3994 §4: text implies idle)", () => {
  const r = xmppMessageToSip(parse(`<message type='chat'><body>hi</body><composing xmlns='${CS}'/></message>`), ctx);
  assert.ok(r.outcome === "send");
  assert.equal(r.draft.body, "hi");
  assert.equal(r.draft.contentType, undefined);
  assert.match(serializeMessage(buildSipMessage(r.draft)).toString(), /\r\nContent-Type: text\/plain;charset=UTF-8\r\n/);
});

test("a chat state in another namespace, or an unknown one, is not a chat state", () => {
  assert.equal(xmppMessageToSip(parse(`<message type='chat'><composing xmlns='urn:other'/></message>`), ctx).outcome, "ignored");
  assert.equal(xmppMessageToSip(parse(`<message type='chat'><typing xmlns='${CS}'/></message>`), ctx).outcome, "ignored");
  assert.equal(xmppMessageToSip(parse(`<message type='groupchat'><composing xmlns='${CS}'/></message>`), ctx).outcome, "failed");
});

function sipRequest(contentType: string, body: string | Buffer): SipRequest {
  return {
    kind: "request",
    method: "MESSAGE",
    uri: "sip:romeo@partner.example;gr=orchard",
    headers: new SipHeaders([["From", "<sip:juliet@sip.contoso.com>;tag=9"], ["To", "<sip:romeo@partner.example>"], ["Call-ID", "c"], ["CSeq", "1 MESSAGE"], ["Content-Type", contentType]]),
    body: typeof body === "string" ? Buffer.from(body) : body,
  };
}

test("SIP isComposing active → <composing/>, idle → <paused/>, no body, golden (XEP-0085 §2, §5.6 rule 3)", () => {
  const doc = (s: string): string => `<?xml version="1.0" encoding="UTF-8"?>\n<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"\n  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n  <state>${s}</state>\n  <contenttype>text/plain</contenttype>\n  <lastactive>2024-01-01T10:00:00Z</lastactive>\n  <refresh>60</refresh>\n</isComposing>\n`;
  const a = sipMessageToXmpp(sipRequest("application/im-iscomposing+xml", doc("active")), mapper, { id: "s1" });
  assert.ok(a.outcome === "stanza");
  assert.equal(a.stanza.toString(), `<message type="chat" from="juliet@contoso.com" to="romeo@partner.example/orchard" id="s1"><composing xmlns="${CS}"/></message>`);
  const i = sipMessageToXmpp(sipRequest("Application/IM-isComposing+XML; charset=utf-8", doc("idle")), mapper, { id: "s2" });
  assert.ok(i.outcome === "stanza");
  assert.equal(i.stanza.toString(), `<message type="chat" from="juliet@contoso.com" to="romeo@partner.example/orchard" id="s2"><paused xmlns="${CS}"/></message>`);
});

test("our documents read back; fields parsed", () => {
  assert.deepEqual(parseIsComposing(Buffer.from(buildIsComposing("active"))), { state: "active", refresh: 90 });
  assert.deepEqual(parseIsComposing(Buffer.from(buildIsComposing("idle"))), { state: "idle" });
  assert.equal(buildIsComposing("active", { refresh: 60, contentType: "text/plain" }), `<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"><state>active</state><contenttype>text/plain</contenttype><refresh>60</refresh></isComposing>`);
});

test("hostile or bad isComposing documents → 400/415 with a clear reason, never a stanza", () => {
  const ns = "urn:ietf:params:xml:ns:im-iscomposing";
  const cases: [string | Buffer, number, RegExp][] = [
    [`<!DOCTYPE x [<!ENTITY a "aaaa">]><isComposing xmlns="${ns}"><state>&a;</state></isComposing>`, 400, /bad isComposing document/],
    [`<isComposing xmlns="${ns}"><state>&xxe;</state></isComposing>`, 400, /bad isComposing document/],
    [`<isComposing xmlns="${ns}"><!-- c --><state>active</state></isComposing>`, 400, /bad isComposing document/],
    [`<isComposing xmlns="${ns}"><?pi x?><state>active</state></isComposing>`, 400, /bad isComposing document/],
    [`<isComposing xmlns="${ns}"><state>active</state>`, 400, /found 0/],
    [`<isComposing xmlns="${ns}"><state>active</state></isComposing><isComposing xmlns="${ns}"><state>idle</state></isComposing>`, 400, /found 2/],
    [`<isComposing xmlns="urn:other"><state>active</state></isComposing>`, 400, /not an isComposing document/],
    [`<isComposing xmlns="${ns}"/>`, 400, /without <state>/],
    [`<isComposing xmlns="${ns}"><state>typing</state></isComposing>`, 400, /unknown isComposing state/],
    [`<isComposing xmlns="${ns}"><state>active</state><state>idle</state></isComposing>`, 400, /more than one <state>/],
    [`<isComposing xmlns="${ns}"><state>active</state><refresh>-5</refresh></isComposing>`, 400, /bad <refresh>/],
    [`<isComposing xmlns="${ns}"><state>active</state><refresh>0</refresh></isComposing>`, 400, /bad <refresh>/],
    [`<isComposing xmlns="${ns}"><a><b><c><d><state>active</state></d></c></b></a></isComposing>`, 400, /bad isComposing document/],
    [`<isComposing xmlns="${ns}"><state>active</state><x>${"y".repeat(3000)}</x></isComposing>`, 400, /too large/],
    [`<?xml version="1.0" encoding="ISO-8859-1"?><isComposing xmlns="${ns}"><state>idle</state></isComposing>`, 415, /not in UTF-8/],
    [Buffer.from([0x3c, 0xff, 0xfe, 0x3e]), 400, /not UTF-8/],
    [`<isComposing xmlns="${ns}"><state>active`, 400, /found 0/],
    [``, 400, /found 0/],
  ];
  for (const [body, status, reason] of cases) {
    const r = sipMessageToXmpp(sipRequest("application/im-iscomposing+xml", body), mapper, { id: "x" });
    assert.equal(r.outcome, "rejected", String(body).slice(0, 60));
    if (r.outcome !== "rejected") continue;
    assert.equal(r.status, status, String(body).slice(0, 60));
    assert.match(r.reason, reason, String(body).slice(0, 60));
    assert.doesNotMatch(r.reason, /[\r\n]/);
  }
  assert.throws(() => parseIsComposing(Buffer.from("<x/>")), IsComposingError);
});

// XEP-0085 §2 (checked against the XEP's text): the five states and what each means for "composing".
test("XEP-0085 §2: only <composing/> is composing; the four other states are not (isComposing idle)", () => {
  const rows: [string, string][] = [["active", "idle"], ["composing", "active"], ["paused", "idle"], ["inactive", "idle"], ["gone", "idle"]];
  for (const [state, expected] of rows) {
    const r = xmppMessageToSip(parse(`<message type='chat'><${state} xmlns='${CS}'/></message>`), ctx);
    assert.ok(r.outcome === "send", state);
    assert.equal(parseIsComposing(Buffer.from(r.draft.body)).state, expected, state);
  }
});

test("XEP-0085 §5.6: a standalone notification from SIP has the chat state as its only child; two states in one message → the first", () => {
  const doc = `<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"><state>active</state></isComposing>`;
  const r = sipMessageToXmpp(sipRequest("application/im-iscomposing+xml", doc), mapper, { id: "s3" });
  assert.ok(r.outcome === "stanza");
  const children = r.stanza.children.filter((c): c is Element => typeof c !== "string");
  assert.deepEqual(children.map((c) => [c.getName(), c.getNS()]), [["composing", CS]]);
  assert.equal(r.stanza.attrs.type, "chat"); // §5.4 rule 3
  const two = xmppMessageToSip(parse(`<message type='chat'><paused xmlns='${CS}'/><composing xmlns='${CS}'/></message>`), ctx);
  assert.ok(two.outcome === "send");
  assert.equal(parseIsComposing(Buffer.from(two.draft.body)).state, "idle");
});
