import { test } from "node:test";
import assert from "node:assert/strict";
import { SipParseError } from "./errors.ts";
import { SipHeaders } from "./headers.ts";
import { parseMessage, serializedSize, serializeMessage, type SipRequest } from "./message.ts";

const crlf = (lines: string[]): string => lines.join("\r\n");

// A MESSAGE in the shape of RFC 3428 §4, written for these tests.
const MESSAGE = crlf([
  "MESSAGE sip:juliet@sip.example.com SIP/2.0",
  "Via: SIP/2.0/UDP gw.example.net:5060;branch=z9hG4bK776sgdkse;rport",
  "Max-Forwards: 70",
  "From: <sip:romeo@example.net>;tag=49583",
  "To: <sip:juliet@sip.example.com>",
  "Call-ID: asd88asd77a@1.2.3.4",
  "CSeq: 1 MESSAGE",
  "Content-Type: text/plain;charset=UTF-8",
  "Content-Length: 18",
  "",
  "Watson, come here.",
]);

test("parses a MESSAGE request with its body", () => {
  const m = parseMessage(MESSAGE);
  assert.equal(m.kind, "request");
  const r = m as SipRequest;
  assert.equal(r.method, "MESSAGE");
  assert.equal(r.uri, "sip:juliet@sip.example.com");
  assert.equal(r.headers.get("call-id"), "asd88asd77a@1.2.3.4");
  assert.equal(r.headers.get("CSEQ"), "1 MESSAGE");
  assert.equal(r.body.toString(), "Watson, come here.");
});

test("serializes byte for byte and round-trips", () => {
  const m = parseMessage(MESSAGE);
  assert.equal(serializeMessage(m).toString(), MESSAGE);
  assert.deepEqual(parseMessage(serializeMessage(m)).headers.entries(), m.headers.entries());
});

test("serializes a built response exactly", () => {
  const headers = new SipHeaders([
    ["via", "SIP/2.0/UDP a.example;branch=z9hG4bKx"],
    ["f", "<sip:a@a.example>;tag=1"],
    ["t", "<sip:b@b.example>;tag=2"],
    ["i", "c1"],
    ["cseq", "7 MESSAGE"],
  ]);
  const wire = serializeMessage({ kind: "response", status: 200, reason: "OK", headers, body: Buffer.alloc(0) });
  assert.equal(
    wire.toString(),
    crlf([
      "SIP/2.0 200 OK",
      "Via: SIP/2.0/UDP a.example;branch=z9hG4bKx",
      "From: <sip:a@a.example>;tag=1",
      "To: <sip:b@b.example>;tag=2",
      "Call-ID: c1",
      "CSeq: 7 MESSAGE",
      "Content-Length: 0",
      "",
      "",
    ]),
  );
});

test("serializer refuses header values with line breaks (no injection)", () => {
  const headers = new SipHeaders([["Subject", "hi\r\nX-Evil: 1"]]);
  assert.throws(() => serializeMessage({ kind: "response", status: 200, reason: "OK", headers, body: Buffer.alloc(0) }), TypeError);
});

test("compact forms, folding, odd spacing and combined Via lines (in the spirit of RFC 4475 §3.1.1.1)", () => {
  const text = crlf([
    "OPTIONS sip:user@example.com SIP/2.0",
    "v: SIP/2.0/UDP one.example.com;branch=z9hG4bK1, SIP/2.0/TCP two.example.com;branch=z9hG4bK2",
    "Via  :   SIP/2.0/UDP three.example.com",
    "   ;branch=z9hG4bK3",
    "f: \"Caller, Esq.\" <sip:caller@example.net>;tag=98asjd8",
    "t: sip:user@example.com",
    "i: 0ha0isndaksdj@192.0.2.1",
    "CSeq:",
    "\t 8",
    "   OPTIONS",
    "Max-Forwards: 6",
    "Subject: line one",
    "\tline two",
    "k: foo, bar",
    "k: baz",
    "m: \"Quoted, Name\" <sip:a@b.example>, <sip:c@d.example>",
    "l: 0",
    "",
    "",
  ]);
  const m = parseMessage(text);
  assert.deepEqual(m.headers.getAll("via"), [
    "SIP/2.0/UDP one.example.com;branch=z9hG4bK1",
    "SIP/2.0/TCP two.example.com;branch=z9hG4bK2",
    "SIP/2.0/UDP three.example.com ;branch=z9hG4bK3",
  ]);
  assert.equal(m.headers.get("from"), '"Caller, Esq." <sip:caller@example.net>;tag=98asjd8');
  assert.equal(m.headers.get("cseq"), "8 OPTIONS");
  assert.equal(m.headers.get("subject"), "line one line two");
  assert.deepEqual(m.headers.getAll("supported"), ["foo", "bar", "baz"]);
  assert.deepEqual(m.headers.getAll("contact"), ['"Quoted, Name" <sip:a@b.example>', "<sip:c@d.example>"]);
  assert.equal(m.headers.entries()[0]!.name, "Via");
});

test("datagram: bytes past Content-Length are dropped (RFC 3261 §18.3)", () => {
  const m = parseMessage(MESSAGE + "trailing junk");
  assert.equal(m.body.toString(), "Watson, come here.");
});

test("datagram: no Content-Length means the rest of the datagram", () => {
  const m = parseMessage(MESSAGE.replace("Content-Length: 18\r\n", ""));
  assert.equal(m.body.toString(), "Watson, come here.");
});

test("leading CRLFs before the start line are ignored (RFC 3261 §7.5)", () => {
  assert.equal(parseMessage("\r\n\r\n" + MESSAGE).kind, "request");
});

test("a response with a multi-word reason", () => {
  const m = parseMessage(crlf([
    "SIP/2.0 480 Temporarily Unavailable",
    "Via: SIP/2.0/UDP gw.example.net;branch=z9hG4bK1",
    "From: <sip:a@x>;tag=1",
    "To: <sip:b@y>;tag=2",
    "Call-ID: 1",
    "CSeq: 1 MESSAGE",
    "Content-Length: 0",
    "",
    "",
  ]));
  assert.equal(m.kind, "response");
  if (m.kind === "response") {
    assert.equal(m.status, 480);
    assert.equal(m.reason, "Temporarily Unavailable");
  }
});

function refuses(text: string | Buffer, reason: SipParseError["reason"], status = 400): void {
  assert.throws(
    () => parseMessage(text),
    (err: unknown) => err instanceof SipParseError && err.reason === reason && err.status === status,
  );
}

const HEADERS_OK = [
  "Via: SIP/2.0/UDP h.example;branch=z9hG4bKa",
  "From: <sip:a@h.example>;tag=1",
  "To: <sip:b@h.example>",
  "Call-ID: x",
];

// Malformed messages, each typed for this file after the kinds RFC 4475 §3.1.2 lists: all refused with an error.
test("refuses a Content-Length larger than the body (RFC 4475 §3.1.2.x 'clerr' kind)", () => {
  refuses(crlf(["MESSAGE sip:b@h.example SIP/2.0", ...HEADERS_OK, "CSeq: 1 MESSAGE", "Content-Length: 9999", "", "short"]), "truncated-body");
});

test("refuses a negative or non-numeric Content-Length", () => {
  refuses(crlf(["MESSAGE sip:b@h.example SIP/2.0", ...HEADERS_OK, "CSeq: 1 MESSAGE", "Content-Length: -1", "", ""]), "bad-content-length");
  refuses(crlf(["MESSAGE sip:b@h.example SIP/2.0", ...HEADERS_OK, "CSeq: 1 MESSAGE", "Content-Length: 1e3", "", ""]), "bad-content-length");
  refuses(crlf(["MESSAGE sip:b@h.example SIP/2.0", ...HEADERS_OK, "CSeq: 1 MESSAGE", "l: 2", "Content-Length: 3", "", "abc"]), "bad-content-length");
});

test("refuses a request whose CSeq method differs from the method ('mismatch01' kind)", () => {
  refuses(crlf(["OPTIONS sip:b@h.example SIP/2.0", ...HEADERS_OK, "CSeq: 1 INVITE", "", ""]), "bad-cseq");
});

test("refuses an unknown protocol version with 505 ('badvers' kind)", () => {
  refuses(crlf(["OPTIONS sip:b@h.example SIP/7.0", ...HEADERS_OK, "CSeq: 1 OPTIONS", "", ""]), "bad-version", 505);
});

test("refuses a Request-URI with spaces or brackets ('baduri' kinds)", () => {
  refuses(crlf(["OPTIONS sip:b@h.example;x=a b SIP/2.0", ...HEADERS_OK, "CSeq: 1 OPTIONS", "", ""]), "bad-start-line");
  refuses(crlf(["OPTIONS <sip:b@h.example> SIP/2.0", ...HEADERS_OK, "CSeq: 1 OPTIONS", "", ""]), "bad-uri");
});

test("refuses missing mandatory headers ('insuf' kind)", () => {
  refuses(crlf(["OPTIONS sip:b@h.example SIP/2.0", "Via: SIP/2.0/UDP h.example;branch=z9hG4bKa", "CSeq: 1 OPTIONS", "", ""]), "missing-header");
});

test("refuses a non-numeric CSeq and a CSeq out of range", () => {
  refuses(crlf(["OPTIONS sip:b@h.example SIP/2.0", ...HEADERS_OK, "CSeq: one OPTIONS", "", ""]), "bad-cseq");
  refuses(crlf(["OPTIONS sip:b@h.example SIP/2.0", ...HEADERS_OK, "CSeq: 2147483648 OPTIONS", "", ""]), "bad-cseq");
});

test("refuses a bad status code and garbage start lines", () => {
  refuses(crlf(["SIP/2.0 99 Odd", ...HEADERS_OK, "CSeq: 1 OPTIONS", "", ""]), "bad-start-line");
  refuses(crlf(["SIP/2.0 1000 Odd", ...HEADERS_OK, "CSeq: 1 OPTIONS", "", ""]), "bad-start-line");
  refuses(crlf(["\u0000\u0001garbage", ...HEADERS_OK, "CSeq: 1 OPTIONS", "", ""]), "bad-start-line");
  refuses("", "no-header-end");
  refuses("OPTIONS sip:b@h.example SIP/2.0\r\nVia: x", "no-header-end");
});

test("refuses header lines without a colon or with a bad name", () => {
  refuses(crlf(["OPTIONS sip:b@h.example SIP/2.0", ...HEADERS_OK, "CSeq: 1 OPTIONS", "NoColonHere", "", ""]), "bad-header");
  refuses(crlf(["OPTIONS sip:b@h.example SIP/2.0", ...HEADERS_OK, "CSeq: 1 OPTIONS", "Bad Name: x", "", ""]), "bad-header");
  refuses(crlf(["OPTIONS sip:b@h.example SIP/2.0", " folded-first: x", ...HEADERS_OK, "CSeq: 1 OPTIONS", "", ""]), "bad-header");
});

test("refuses two Call-ID headers", () => {
  refuses(crlf(["OPTIONS sip:b@h.example SIP/2.0", ...HEADERS_OK, "i: y", "CSeq: 1 OPTIONS", "", ""]), "bad-header");
});

test("refuses invalid UTF-8 in the header section", () => {
  const buf = Buffer.concat([Buffer.from("OPTIONS sip:b@h.example SIP/2.0\r\nSubject: "), Buffer.from([0xff, 0xfe]), Buffer.from("\r\n\r\n")]);
  refuses(buf, "bad-encoding");
});

test("limits: 64 KiB per message (513) and 100 header lines", () => {
  const big = crlf(["MESSAGE sip:b@h.example SIP/2.0", ...HEADERS_OK, "CSeq: 1 MESSAGE", "", "x".repeat(64 * 1024)]);
  refuses(big, "too-large", 513);
  const many = crlf(["OPTIONS sip:b@h.example SIP/2.0", ...HEADERS_OK, "CSeq: 1 OPTIONS", ...Array.from({ length: 100 }, (_, i) => `X-H${i}: v`), "", ""]);
  refuses(many, "too-many-headers");
  const exactly100 = crlf(["OPTIONS sip:b@h.example SIP/2.0", ...HEADERS_OK, "CSeq: 1 OPTIONS", ...Array.from({ length: 95 }, (_, i) => `X-H${i}: v`), "", ""]);
  assert.equal(parseMessage(exactly100).headers.size, 100);
});

test("random bytes never throw anything but SipParseError", () => {
  let seed = 42;
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const pieces = ["\r\n", ":", " ", "SIP/2.0", "Via", "l: 5", "CSeq: 1 X", ";", "<", ">", "\"", "%", "\u00e9", "\t", "sip:a@b"];
  for (let i = 0; i < 2000; i++) {
    let s = "";
    const n = Math.floor(rand() * 30);
    for (let j = 0; j < n; j++) s += pieces[Math.floor(rand() * pieces.length)];
    try {
      parseMessage(s);
    } catch (err) {
      assert.ok(err instanceof SipParseError, `unexpected ${String(err)} for ${JSON.stringify(s)}`);
    }
  }
});

test("serializedSize is the length of serializeMessage's bytes", () => {
  const request = {
    kind: "request" as const,
    method: "MESSAGE",
    uri: "sip:jüliet@gateway.test",
    headers: new SipHeaders([
      ["Via", "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKx"],
      ["From", "<sip:romeo@p.test>;tag=1"],
      ["To", "<sip:jüliet@gateway.test>"],
      ["Content-Length", "999"],
      ["Content-Type", "text/plain;charset=UTF-8"],
    ]),
    body: Buffer.from("Grüße ✓", "utf8"),
  };
  assert.equal(serializedSize(request), serializeMessage(request).length);
  const empty = { ...request, body: Buffer.alloc(0) };
  assert.equal(serializedSize(empty), serializeMessage(empty).length);
});
