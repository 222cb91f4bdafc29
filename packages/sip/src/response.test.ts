import { test } from "node:test";
import assert from "node:assert/strict";
import { parseMessage, serializeMessage, type SipRequest } from "./message.ts";
import { createResponse } from "./response.ts";

const request = parseMessage(
  [
    "MESSAGE sip:bob@biloxi.example SIP/2.0",
    "Via: SIP/2.0/UDP proxy.example;branch=z9hG4bK2;received=192.0.2.9",
    "Via: SIP/2.0/UDP client.example:5070;branch=z9hG4bK1",
    "Max-Forwards: 69",
    "From: Alice <sip:alice@atlanta.example>;tag=1928",
    "To: <sip:bob@biloxi.example>",
    "Call-ID: a84b4c76e66710",
    "CSeq: 314159 MESSAGE",
    "Timestamp: 54",
    "Content-Length: 0",
    "",
    "",
  ].join("\r\n"),
) as SipRequest;

test("a 200 echoes Via/From/To/Call-ID/CSeq and adds a To-tag (RFC 3261 §8.2.6.2) — golden", () => {
  const res = createResponse(request, 200, { toTag: "abc" });
  assert.equal(
    serializeMessage(res).toString(),
    [
      "SIP/2.0 200 OK",
      "Via: SIP/2.0/UDP proxy.example;branch=z9hG4bK2;received=192.0.2.9",
      "Via: SIP/2.0/UDP client.example:5070;branch=z9hG4bK1",
      "From: Alice <sip:alice@atlanta.example>;tag=1928",
      "To: <sip:bob@biloxi.example>;tag=abc",
      "Call-ID: a84b4c76e66710",
      "CSeq: 314159 MESSAGE",
      "Content-Length: 0",
      "",
      "",
    ].join("\r\n"),
  );
});

test("a random To-tag by default; none on 100 Trying, which copies Timestamp", () => {
  assert.match(createResponse(request, 404).headers.get("to")!, /;tag=[0-9a-f]{16}$/);
  const trying = createResponse(request, 100);
  assert.equal(trying.headers.get("to"), "<sip:bob@biloxi.example>");
  assert.equal(trying.headers.get("timestamp"), "54");
  assert.equal(trying.reason, "Trying");
});

test("an existing To-tag is kept", () => {
  const withTag = parseMessage(serializeMessage(request).toString().replace("To: <sip:bob@biloxi.example>", "To: <sip:bob@biloxi.example>;tag=keep")) as SipRequest;
  assert.equal(createResponse(withTag, 200).headers.get("to"), "<sip:bob@biloxi.example>;tag=keep");
});
