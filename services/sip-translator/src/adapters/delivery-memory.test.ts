// The delivery memory against a real Redis (testkit): a redelivered stanza is answered from memory
// (also across a minute boundary and from another replica's record), records are batched and
// expire, failures without a SIP answer are not remembered, Redis trouble never blocks a delivery.
import { after, before, beforeEach, test } from "node:test";
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import type { SipDeliveryRequest, SipDeliveryResult } from "@passerelle/contracts";
import { createScope, recordRedisCommands, startRedis, type RedisCommandLog, type RedisServer } from "@passerelle/testkit";
import { DeliveryMemory } from "./delivery-memory.ts";

const scope = createScope("sip-delivery-memory");
let server: RedisServer;
let redis: Redis;
let commands: RedisCommandLog;

before(async () => {
  server = await startRedis(scope);
  redis = new Redis(server.url, { maxRetriesPerRequest: 2 });
  // Count the commands sent (what the batching is there to save).
  commands = recordRedisCommands(redis);
});
after(async () => {
  await redis?.quit();
  await scope.close();
});
beforeEach(async () => {
  await redis.flushall();
  commands.clear();
});

const request: SipDeliveryRequest = { v: 1, id: "edge-0/s1/7", kind: "message", from: "a@p.test", to: "j@g.test", sipDomain: "g.test", xml: "<message/>" };
const settle = () => new Promise((r) => setTimeout(r, 20));

test("a redelivered stanza is answered from memory, not sent twice", async () => {
  const memory = new DeliveryMemory(redis);
  let sent = 0;
  const deliver = async (): Promise<SipDeliveryResult> => {
    sent++;
    return { v: 1, id: request.id, outcome: "delivered", sipStatus: 200 };
  };
  assert.equal((await memory.once(request, deliver)).outcome, "delivered");
  await settle();
  assert.equal((await memory.once({ ...request, redelivered: true }, deliver)).sipStatus, 200);
  // Another replica (another DeliveryMemory on the same Redis) knows it too.
  assert.equal((await new DeliveryMemory(redis).once({ ...request, redelivered: true }, deliver)).sipStatus, 200);
  assert.equal(sent, 1);
});

test("a burst is remembered in one HSET, with an expiry", async () => {
  const memory = new DeliveryMemory(redis, 600);
  const results = await Promise.all(
    Array.from({ length: 50 }, (_, n) => memory.once({ ...request, id: `s${n}` }, async () => ({ v: 1, id: `s${n}`, outcome: "delivered", sipStatus: 200 }))),
  );
  assert.equal(results.length, 50);
  await settle();
  assert.equal(commands.count("hset"), 1);
  const keys = await redis.keys("passerelle:sip:deliveries:*");
  assert.equal(keys.length, 1);
  assert.equal(await redis.hlen(keys[0]!), 50);
  const ttl = await redis.ttl(keys[0]!);
  assert.ok(ttl > 600 && ttl <= 660, `ttl ${ttl}`);
});

test("a record written in an earlier minute is still found; one older than the TTL is not", async () => {
  let now = Math.floor(Date.now() / 60_000) * 60_000 + 59_000;
  const memory = new DeliveryMemory(redis, 120, () => now);
  let sent = 0;
  const deliver = async (): Promise<SipDeliveryResult> => ({ v: 1, id: request.id, outcome: "delivered", sipStatus: 200 + sent++ });
  await memory.once(request, deliver);
  await settle();
  now += 2_000; // the next minute
  assert.equal((await memory.once({ ...request, redelivered: true }, deliver)).sipStatus, 200);
  now += 3 * 60_000; // beyond the buckets a 120 s memory looks at
  assert.equal((await memory.once({ ...request, redelivered: true }, deliver)).sipStatus, 201);
});

test("a failure without a SIP answer is not remembered: the retry sends again", async () => {
  const memory = new DeliveryMemory(redis);
  let sent = 0;
  const deliver = async (): Promise<SipDeliveryResult> => {
    sent++;
    return { v: 1, id: request.id, outcome: "failed", error: { type: "cancel", condition: "internal-server-error" } };
  };
  await memory.once(request, deliver);
  await settle();
  await memory.once({ ...request, redelivered: true }, deliver);
  assert.equal(sent, 2);
});

test("Redis trouble never blocks a delivery", async () => {
  const broken = new Redis(server.url, { maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  broken.on("error", () => undefined);
  await new Promise((resolve) => broken.once("ready", resolve));
  broken.disconnect();
  const memory = new DeliveryMemory(broken);
  const result = await memory.once({ ...request, redelivered: true }, async () => ({ v: 1, id: request.id, outcome: "delivered", sipStatus: 200 }));
  assert.equal(result.outcome, "delivered");
  await settle();
});
