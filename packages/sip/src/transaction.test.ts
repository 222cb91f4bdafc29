import { test } from "node:test";
import assert from "node:assert/strict";
import { SipHeaders } from "./headers.ts";
import { serializeMessage, type SipRequest, type SipResponse } from "./message.ts";
import { createResponse } from "./response.ts";
import { FakeClock } from "./timers.ts";
import { NonInviteClientTransaction } from "./transaction.ts";

function req(): SipRequest {
  return {
    kind: "request",
    method: "MESSAGE",
    uri: "sip:b@h.example",
    headers: new SipHeaders([
      ["Via", "SIP/2.0/UDP gw.example;branch=z9hG4bKt1"],
      ["From", "<sip:a@gw.example>;tag=1"],
      ["To", "<sip:b@h.example>"],
      ["Call-ID", "tx-1"],
      ["CSeq", "1 MESSAGE"],
    ]),
    body: Buffer.alloc(0),
  };
}

function setup(reliable: boolean, fail = false) {
  const clock = new FakeClock();
  const sentAt: number[] = [];
  let terminated = false;
  const request = req();
  const tx = new NonInviteClientTransaction({
    request,
    wire: serializeMessage(request),
    send: async () => {
      sentAt.push(clock.now);
      if (fail) throw new Error("ECONNREFUSED");
    },
    reliable,
    timers: clock,
    onTerminated: () => (terminated = true),
  });
  tx.start();
  return { clock, sentAt, tx, request, isTerminated: () => terminated };
}

test("UDP: Timer E retransmits at T1, doubling to T2 (RFC 3261 §17.1.2.2); Timer F gives a 408 at 64*T1", async () => {
  const { clock, sentAt, tx, isTerminated } = setup(false);
  clock.advance(32_000);
  assert.deepEqual(sentAt, [0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
  const r = await tx.result;
  assert.equal(r.source, "timeout");
  assert.equal(r.response.status, 408);
  assert.equal(r.response.headers.get("call-id"), "tx-1");
  assert.equal(r.response.headers.get("to"), "<sip:b@h.example>", "no To-tag on a locally made 408");
  assert.equal(tx.state, "terminated");
  assert.ok(isTerminated());
  assert.equal(clock.size, 0, "no timer left behind");
});

test("UDP: a provisional response moves to Proceeding, where Timer E uses T2", () => {
  const { clock, sentAt, tx, request } = setup(false);
  clock.advance(600); // sends at 0 and 500
  tx.receiveResponse(createResponse(request, 100));
  assert.equal(tx.state, "proceeding");
  clock.advance(6000); // next E was due at 1500 (set in Trying), then every 4000
  assert.deepEqual(sentAt, [0, 500, 1500, 5500]);
});

test("UDP: a final response completes it; Timer K (T4) absorbs retransmissions then terminates", async () => {
  const { clock, tx, request, isTerminated } = setup(false);
  const ok = createResponse(request, 200, { toTag: "z" });
  tx.receiveResponse(ok);
  assert.equal(tx.state, "completed");
  assert.equal((await tx.result).response, ok);
  tx.receiveResponse(createResponse(request, 500));
  assert.equal((await tx.result).response.status, 200);
  clock.advance(4999);
  assert.equal(isTerminated(), false);
  clock.advance(1);
  assert.equal(tx.state, "terminated");
  assert.equal(clock.size, 0);
});

test("TCP: no retransmission; Timer F still fires; a final response terminates at once (Timer K = 0)", async () => {
  const a = setup(true);
  a.clock.advance(32_000);
  assert.deepEqual(a.sentAt, [0]);
  assert.equal((await a.tx.result).response.status, 408);
  const b = setup(true);
  b.tx.receiveResponse(createResponse(b.request, 486));
  assert.equal(b.tx.state, "terminated");
  assert.equal((await b.tx.result).response.status, 486);
});

test("a transport error ends it with a local 503 (RFC 3261 §8.1.3.1)", async () => {
  const { tx, clock } = setup(true, true);
  const r = await tx.result;
  assert.equal(r.source, "transport-error");
  assert.equal(r.response.status, 503);
  assert.equal(clock.size, 0);
});

test("a 4xx final response is reported as is", async () => {
  const { tx, request } = setup(false);
  const res: SipResponse = createResponse(request, 404);
  tx.receiveResponse(res);
  assert.equal((await tx.result).response.status, 404);
});
