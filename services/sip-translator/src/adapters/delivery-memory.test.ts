import { test } from "node:test";
import assert from "node:assert/strict";
import type { Redis } from "ioredis";
import type { SipDeliveryRequest, SipDeliveryResult } from "@passerelle/contracts";
import { DeliveryMemory } from "./delivery-memory.ts";

// A Redis stand-in with the two commands used (unit test; the e2e tests run a real Redis).
function fakeRedis(): Redis {
  const data = new Map<string, string>();
  return {
    get: async (k: string) => data.get(k) ?? null,
    set: async (k: string, v: string) => {
      data.set(k, v);
      return "OK";
    },
  } as unknown as Redis;
}

const request: SipDeliveryRequest = { v: 1, id: "edge-0/s1/7", kind: "message", from: "a@p.test", to: "j@g.test", sipDomain: "g.test", xml: "<message/>" };

test("a redelivered stanza is answered from memory, not sent twice", async () => {
  const memory = new DeliveryMemory(fakeRedis());
  let sent = 0;
  const deliver = async (): Promise<SipDeliveryResult> => {
    sent++;
    return { v: 1, id: request.id, outcome: "delivered", sipStatus: 200 };
  };
  assert.equal((await memory.once(request, deliver)).outcome, "delivered");
  await new Promise((r) => setImmediate(r));
  assert.equal((await memory.once({ ...request, redelivered: true }, deliver)).sipStatus, 200);
  assert.equal(sent, 1);
});

test("a failure without a SIP answer is not remembered: the retry sends again", async () => {
  const memory = new DeliveryMemory(fakeRedis());
  let sent = 0;
  const deliver = async (): Promise<SipDeliveryResult> => {
    sent++;
    return { v: 1, id: request.id, outcome: "failed", error: { type: "cancel", condition: "internal-server-error" } };
  };
  await memory.once(request, deliver);
  await memory.once({ ...request, redelivered: true }, deliver);
  assert.equal(sent, 2);
});

test("Redis trouble never blocks a delivery", async () => {
  const broken = { get: async () => Promise.reject(new Error("down")), set: async () => Promise.reject(new Error("down")) } as unknown as Redis;
  const result = await new DeliveryMemory(broken).once(request, async () => ({ v: 1, id: request.id, outcome: "delivered", sipStatus: 200 }));
  assert.equal(result.outcome, "delivered");
});
