// The Redis presence store against a real redis-server on loopback.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { createScope, startRedis } from "@passerelle/testkit";
import { RedisPresenceStore, type PairRecord } from "./presence-store.ts";

const scope = createScope("translator-presence-store");
let redis: Redis;
let store: RedisPresenceStore;

before(async () => {
  const server = await startRedis(scope);
  redis = new Redis(server.url);
  store = new RedisPresenceStore(redis);
});
after(async () => {
  redis.disconnect();
  await scope.close();
});

const record = (contact: string, state: PairRecord["state"] = "from"): PairRecord => ({ user: "romeo@gateway.test", contact, state, partnerType: "federated" });

test("a record round-trips with its held membership and its schedule, under the translator's own prefix", async () => {
  await store.put({ ...record("carol@unverified.test", "none+pending-in"), partnerType: "public-unverified" }, { held: true, guarded: true }, undefined);
  await store.put(record("alice@prosody.test"), { held: false, guarded: false }, 1000);
  assert.equal((await store.get("romeo@gateway.test", "alice@prosody.test"))?.state, "from");
  assert.deepEqual(await store.held("romeo@gateway.test"), ["carol@unverified.test"]);
  assert.deepEqual(await store.guarded("romeo@gateway.test"), ["carol@unverified.test"]);
  await store.put(record("carol@unverified.test", "from"), { held: false, guarded: true }, 5000);
  assert.deepEqual(await store.held("romeo@gateway.test"), []);
  assert.deepEqual(await store.guarded("romeo@gateway.test"), ["carol@unverified.test"]);
  const keys = await redis.keys("*");
  assert.ok(keys.length > 0 && keys.every((k) => k.startsWith("passerelle:translator:presence:")), keys.join(", "));
});

test("due pairs are claimed once: a second sweep within the lease gets nothing; saving sets the next time", async () => {
  await store.put(record("bob@verified.test"), { held: false, guarded: false }, 2000);
  const first = await store.due(3000, 10, 60_000);
  assert.ok(first.some((p) => p.contact === "bob@verified.test"));
  assert.ok(first.every((p) => p.user === "romeo@gateway.test"));
  assert.deepEqual(await store.due(3000, 10, 60_000), []);
  await store.put(record("bob@verified.test"), { held: false, guarded: false }, 4000);
  assert.deepEqual((await store.due(4000, 10)).map((p) => p.contact), ["bob@verified.test"]);
});

test("dialogs are found by Call-ID until unbound; remove drops the record everywhere", async () => {
  await store.bindCall("c-1@gw", "romeo@gateway.test", "alice@prosody.test", 60);
  assert.deepEqual(await store.byCall("c-1@gw"), { user: "romeo@gateway.test", contact: "alice@prosody.test" });
  assert.ok((await redis.ttl("passerelle:translator:presence:call:c-1@gw")) > 0);
  await store.unbindCall("c-1@gw");
  assert.equal(await store.byCall("c-1@gw"), undefined);
  await store.remove("romeo@gateway.test", "alice@prosody.test");
  assert.equal(await store.get("romeo@gateway.test", "alice@prosody.test"), undefined);
  assert.equal(await redis.zscore("passerelle:translator:presence:due", "romeo@gateway.test|alice@prosody.test"), null);
});
