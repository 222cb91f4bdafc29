import { test } from "node:test";
import assert from "node:assert/strict";
import { StreamParser, type Element } from "@passerelle/xmpp";
import {
  PidfError,
  buildXmppPresence,
  noteVisibleTo,
  parsePidf,
  pidfToPresence,
  presenceToPidf,
  readXmppPresence,
  tupleIdForResource,
  type PresenceInfo,
} from "./presence-mapping.ts";

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

const DECL = '<?xml version="1.0" encoding="UTF-8"?>';
const OPEN = `<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="sip:juliet@sip.contoso.com">`;
const opts = { entity: "sip:juliet@sip.contoso.com", tupleId: "t1", includeNote: true };

function golden(basic: "open" | "closed", activity: string | undefined, note?: string): string {
  return (
    DECL +
    OPEN +
    `<tuple id="t1"><status><basic>${basic}</basic></status>${note !== undefined ? `<note>${note}</note>` : ""}</tuple>` +
    (activity !== undefined ? `<dm:person id="pt1"><rpid:activities><rpid:${activity}/></rpid:activities></dm:person>` : "") +
    "</presence>"
  );
}

// XMPP → PIDF, one row per show value (RFC 8048 §6.2, RFC 4480 §3.2).
const XMPP_TO_PIDF: [string, string, string | undefined][] = [
  ["<presence/>", "open", undefined],
  ["<presence><show>chat</show></presence>", "open", undefined],
  ["<presence><show>away</show></presence>", "open", "away"],
  ["<presence><show>xa</show></presence>", "open", "away"],
  ["<presence><show>dnd</show></presence>", "open", "busy"],
  ["<presence><show>bogus</show></presence>", "open", undefined],
  ["<presence type='unavailable'/>", "closed", undefined],
  ["<presence type='unavailable'><show>dnd</show></presence>", "closed", undefined],
];
for (const [stanza, basic, activity] of XMPP_TO_PIDF) {
  test(`XMPP ${stanza} → PIDF ${basic}/${activity ?? "no activity"}`, () => {
    const info = readXmppPresence(parse(stanza));
    assert.ok(info);
    assert.equal(presenceToPidf(info, opts), golden(basic as "open" | "closed", activity));
  });
}

test("XMPP status → PIDF <note/>, escaped, with a Federated partner", () => {
  const info = readXmppPresence(parse("<presence><show>away</show><status>At lunch &lt;back at 2&gt; &amp; co</status></presence>"));
  assert.ok(info);
  assert.equal(presenceToPidf(info, opts), golden("open", "away", "At lunch &lt;back at 2&gt; &amp; co"));
});

test("status on unavailable kept as the note (RFC 6121 §4.5.1)", () => {
  const info = readXmppPresence(parse("<presence type='unavailable'><status>gone home</status></presence>"));
  assert.ok(info);
  assert.equal(presenceToPidf(info, opts), golden("closed", undefined, "gone home"));
});

test("includeNote false drops the note (Public partners never see it), both ways", () => {
  const info = readXmppPresence(parse("<presence><show>dnd</show><status>in a meeting with HR</status></presence>"));
  assert.ok(info);
  assert.equal(presenceToPidf(info, { ...opts, includeNote: false }), golden("open", "busy"));
  const back = pidfToPresence(golden("open", "busy", "in a meeting with HR"), { includeNote: false });
  assert.deepEqual(back, { available: true, show: "dnd" });
  assert.equal(
    buildXmppPresence({ available: true, show: "dnd", status: "secret" }, { from: "juliet@contoso.com", to: "romeo@partner.example" }, { includeNote: false }).toString(),
    `<presence from="juliet@contoso.com" to="romeo@partner.example"><show>dnd</show></presence>`,
  );
});

test("only Federated partners see the status note", () => {
  assert.equal(noteVisibleTo("federated"), true);
  assert.equal(noteVisibleTo("public-verified"), false);
  assert.equal(noteVisibleTo("public-unverified"), false);
  const info = { available: true, show: "away" as const, status: "dentist" };
  assert.equal(presenceToPidf(info, { ...opts, includeNote: noteVisibleTo("public-verified") }), golden("open", "away"));
  assert.equal(presenceToPidf(info, { ...opts, includeNote: noteVisibleTo("federated") }), golden("open", "away", "dentist"));
});

test("status with xml:lang: the one without xml:lang is chosen", () => {
  const info = readXmppPresence(parse("<presence><status xml:lang='fr'>absent</status><status>away</status></presence>"));
  assert.deepEqual(info, { available: true, status: "away" });
});

test("priority ↔ contact priority (0..1) when a contact URI is given", () => {
  const info = readXmppPresence(parse("<presence><priority>127</priority></presence>"));
  assert.deepEqual(info, { available: true, priority: 127 });
  const pidf = presenceToPidf(info ?? { available: true }, { ...opts, contact: "sip:juliet@sip.contoso.com;gr=balcony" });
  assert.equal(
    pidf,
    DECL + OPEN + `<tuple id="t1"><status><basic>open</basic></status><contact priority="1">sip:juliet@sip.contoso.com;gr=balcony</contact></tuple></presence>`,
  );
  assert.deepEqual(pidfToPresence(pidf, { includeNote: true }), { available: true, priority: 127 });
  assert.match(presenceToPidf({ available: true, priority: -5 }, { ...opts, contact: "sip:a@b" }), /<contact priority="0">/);
  assert.match(presenceToPidf({ available: true, priority: 64 }, { ...opts, contact: "sip:a@b" }), /<contact priority="0.504">/);
  assert.deepEqual(readXmppPresence(parse("<presence><priority>300</priority></presence>")), { available: true });
});

test("subscription and probe presence are not availability", () => {
  assert.equal(readXmppPresence(parse("<presence type='subscribe'/>")), null);
  assert.equal(readXmppPresence(parse("<presence type='probe'/>")), null);
  assert.equal(readXmppPresence(parse("<message/>")), null);
});

// PIDF → XMPP, golden both ways (RFC 8048 §6.3).
const PIDF_TO_XMPP: [string, PresenceInfo, string][] = [
  [golden("open", undefined), { available: true }, `<presence from="juliet@contoso.com" to="romeo@partner.example"/>`],
  [golden("open", "away"), { available: true, show: "away" }, `<presence from="juliet@contoso.com" to="romeo@partner.example"><show>away</show></presence>`],
  [golden("open", "busy"), { available: true, show: "dnd" }, `<presence from="juliet@contoso.com" to="romeo@partner.example"><show>dnd</show></presence>`],
  [golden("open", "on-the-phone"), { available: true, show: "dnd" }, `<presence from="juliet@contoso.com" to="romeo@partner.example"><show>dnd</show></presence>`],
  [golden("open", "meeting"), { available: true, show: "dnd" }, `<presence from="juliet@contoso.com" to="romeo@partner.example"><show>dnd</show></presence>`],
  [golden("open", "vacation"), { available: true, show: "xa" }, `<presence from="juliet@contoso.com" to="romeo@partner.example"><show>xa</show></presence>`],
  [golden("open", "meal"), { available: true, show: "away" }, `<presence from="juliet@contoso.com" to="romeo@partner.example"><show>away</show></presence>`],
  [golden("open", "unknown"), { available: true }, `<presence from="juliet@contoso.com" to="romeo@partner.example"/>`],
  [golden("closed", undefined), { available: false }, `<presence from="juliet@contoso.com" to="romeo@partner.example" type="unavailable"/>`],
  [golden("closed", "away"), { available: false }, `<presence from="juliet@contoso.com" to="romeo@partner.example" type="unavailable"/>`],
  [
    golden("open", "away", "Back at 2 &amp; then some"),
    { available: true, show: "away", status: "Back at 2 & then some" },
    `<presence from="juliet@contoso.com" to="romeo@partner.example"><show>away</show><status>Back at 2 &amp; then some</status></presence>`,
  ],
  [
    golden("closed", undefined, "gone home"),
    { available: false, status: "gone home" },
    `<presence from="juliet@contoso.com" to="romeo@partner.example" type="unavailable"><status>gone home</status></presence>`,
  ],
];
for (const [pidf, info, stanza] of PIDF_TO_XMPP) {
  test(`PIDF → XMPP ${stanza}`, () => {
    const read = pidfToPresence(pidf, { includeNote: true });
    assert.deepEqual(read, info);
    assert.equal(buildXmppPresence(read, { from: "juliet@contoso.com", to: "romeo@partner.example" }, { includeNote: true }).toString(), stanza);
  });
}

test("PIDF with several tuples: any open one makes it available; notes on person and document are read", () => {
  const pidf =
    `<?xml version='1.0' encoding='utf-8'?>\n<presence xmlns='urn:ietf:params:xml:ns:pidf' xmlns:dm='urn:ietf:params:xml:ns:pidf:data-model' xmlns:r='urn:ietf:params:xml:ns:pidf:rpid' entity='pres:juliet@sip.contoso.com'>` +
    `<tuple id='a'><status><basic>closed</basic></status></tuple>` +
    `<tuple id='b'><status><basic>open</basic></status></tuple>` +
    `<dm:person id='p'><r:activities><r:away/><r:busy/></r:activities><dm:note>on a call</dm:note></dm:person>` +
    `</presence>\n`;
  assert.deepEqual(pidfToPresence(pidf, { includeNote: true }), { available: true, show: "dnd", status: "on a call" });
  assert.deepEqual(pidfToPresence(pidf, { includeNote: false }), { available: true, show: "dnd" });
  const noTuple = `<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='pres:a@b'><note>hello</note></presence>`;
  assert.deepEqual(pidfToPresence(noTuple, { includeNote: true }), { available: false, status: "hello" });
});

test("activities in a foreign namespace are ignored", () => {
  const pidf = `<presence xmlns='urn:ietf:params:xml:ns:pidf' xmlns:dm='urn:ietf:params:xml:ns:pidf:data-model' xmlns:x='urn:example' entity='pres:a@b'><tuple id='a'><status><basic>open</basic></status></tuple><dm:person id='p'><x:activities><x:busy/></x:activities></dm:person></presence>`;
  assert.deepEqual(pidfToPresence(pidf, { includeNote: true }), { available: true });
});

test("hostile PIDF refused with a clear error", () => {
  const cases: [string, RegExp][] = [
    [`<?xml version="1.0"?><!DOCTYPE presence [<!ENTITY x "boom">]><presence xmlns="urn:ietf:params:xml:ns:pidf" entity="a">&x;</presence>`, /PIDF refused: restricted-xml/],
    [`<!DOCTYPE presence SYSTEM "http://evil.example/p.dtd"><presence xmlns="urn:ietf:params:xml:ns:pidf" entity="a"/>`, /PIDF refused: restricted-xml/],
    [`<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="a">&xxe;</presence>`, /PIDF refused: restricted-xml: undefined entity/],
    [`<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="a"><?evil?></presence>`, /PIDF refused: restricted-xml/],
    [`<presence xmlns="urn:example:not-pidf" entity="a"/>`, /not a PIDF document: <presence> in urn:example:not-pidf/],
    [`<presence entity="a"/>`, /not a PIDF document: <presence> in no namespace/],
    [`<tuple xmlns="urn:ietf:params:xml:ns:pidf" id="a"/>`, /not a PIDF document: <tuple>/],
    [`<?xml version="1.0" encoding="ISO-8859-1"?><presence xmlns="urn:ietf:params:xml:ns:pidf"/>`, /encoding ISO-8859-1 not supported/],
    [`<presence xmlns="urn:ietf:params:xml:ns:pidf"/><presence xmlns="urn:ietf:params:xml:ns:pidf"/>`, /more than one document element/],
    [`<presence xmlns="urn:ietf:params:xml:ns:pidf">`, /PIDF refused: not-well-formed/],
    [``, /no document element/],
    [`<presence xmlns="urn:ietf:params:xml:ns:pidf"><note>${"x".repeat(70000)}</note></presence>`, /PIDF body too large \(\d+ bytes, limit 65536\)/],
    [`<presence xmlns="urn:ietf:params:xml:ns:pidf">${"<a>".repeat(40)}</presence>`, /PIDF refused/],
  ];
  for (const [body, message] of cases) {
    assert.throws(() => pidfToPresence(body, { includeNote: true }), (err: unknown) => err instanceof PidfError && message.test(err.message), body.slice(0, 80));
  }
  assert.throws(() => parsePidf(`<presence xmlns="urn:ietf:params:xml:ns:pidf"/>`, 10), /too large/);
});

test("round trip XMPP → PIDF → XMPP for every show value (xa comes back as away)", () => {
  const expected: Record<string, string | undefined> = { away: "away", chat: undefined, dnd: "dnd", xa: "away" };
  for (const show of ["away", "chat", "dnd", "xa"] as const) {
    const back = pidfToPresence(presenceToPidf({ available: true, show, status: "s" }, opts), { includeNote: true });
    assert.equal(back.show, expected[show], show);
    assert.equal(back.status, "s");
  }
});

test("tuple ids are stable NCNames derived from the resource", () => {
  assert.match(tupleIdForResource("balcony"), /^r[0-9a-f]{16}$/);
  assert.equal(tupleIdForResource("balcony"), tupleIdForResource("balcony"));
  assert.notEqual(tupleIdForResource("balcony"), tupleIdForResource("orchard"));
  assert.match(tupleIdForResource(undefined), /^r[0-9a-f]{16}$/);
});

test("characters XML cannot carry in a status are replaced, never break the document", () => {
  const pidf = presenceToPidf({ available: true, status: "a\u0001b</note><x/>" }, opts);
  assert.equal(pidf, golden("open", undefined, "a\uFFFDb&lt;/note&gt;&lt;x/&gt;"));
  assert.deepEqual(pidfToPresence(pidf, { includeNote: true }), { available: true, status: "a\uFFFDb</note><x/>" });
});
