import { test } from "node:test";
import assert from "node:assert/strict";
import { SipParseError } from "./errors.ts";
import { StreamFramer } from "./framer.ts";

const msg = (n: number, body = ""): string =>
  [
    `MESSAGE sip:b@h.example SIP/2.0`,
    `Via: SIP/2.0/TCP h.example;branch=z9hG4bK${n}`,
    `From: <sip:a@h.example>;tag=${n}`,
    `To: <sip:b@h.example>`,
    `Call-ID: call-${n}`,
    `CSeq: ${n} MESSAGE`,
    `l: ${Buffer.byteLength(body)}`,
    ``,
    body,
  ].join("\r\n");

test("a message fed one byte at a time comes out once, whole", () => {
  const f = new StreamFramer();
  const wire = Buffer.from(msg(1, "héllo"));
  const out = [];
  for (let i = 0; i < wire.length; i++) out.push(...f.push(wire.subarray(i, i + 1)));
  assert.equal(out.length, 1);
  assert.equal(out[0]!.body.toString(), "héllo");
  assert.equal(f.pending, 0);
});

test("pipelined messages in one chunk, with CRLF keepalives between them", () => {
  const f = new StreamFramer();
  const out = f.push(Buffer.from("\r\n\r\n" + msg(1, "a") + msg(2, "") + "\r\n" + msg(3, "ccc") + msg(4).slice(0, 20)));
  assert.deepEqual(out.map((m) => m.headers.get("call-id")), ["call-1", "call-2", "call-3"]);
  assert.equal(out[2]!.body.toString(), "ccc");
  const rest = f.push(Buffer.from(msg(4).slice(20)));
  assert.equal(rest[0]!.headers.get("call-id"), "call-4");
});

test("a body split across chunks waits for its last byte", () => {
  const f = new StreamFramer();
  const wire = msg(5, "0123456789");
  assert.deepEqual(f.push(Buffer.from(wire.slice(0, wire.length - 3))), []);
  assert.equal(f.push(Buffer.from(wire.slice(-3)))[0]!.body.toString(), "0123456789");
});

test("missing Content-Length on a stream is refused, and the framer stays failed", () => {
  const f = new StreamFramer();
  const wire = msg(6, "x").replace("l: 1\r\n", "");
  assert.throws(() => f.push(Buffer.from(wire)), (e: unknown) => e instanceof SipParseError && e.reason === "bad-content-length");
  assert.throws(() => f.push(Buffer.from(msg(7))), SipParseError);
});

test("a header section that never ends is refused past 64 KiB", () => {
  const f = new StreamFramer();
  const chunk = Buffer.from("X-Long: " + "a".repeat(1000) + "\r\n");
  assert.throws(() => {
    for (let i = 0; i < 100; i++) f.push(chunk);
  }, (e: unknown) => e instanceof SipParseError && e.reason === "too-large");
});

test("a Content-Length announcing more than 64 KiB is refused before the body arrives", () => {
  const f = new StreamFramer();
  const head = msg(8).replace("l: 0", "l: 70000");
  assert.throws(() => f.push(Buffer.from(head)), (e: unknown) => e instanceof SipParseError && e.status === 513);
});

test("a malformed message inside a stream is refused", () => {
  const f = new StreamFramer();
  assert.throws(() => f.push(Buffer.from(msg(9).replace("CSeq: 9 MESSAGE", "CSeq: 9 OPTIONS"))), SipParseError);
});
