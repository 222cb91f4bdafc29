// The user store's cache against a real Redis (testkit): facts read once per user and contact,
// dropped by a config.changed event, by a change made through the store, by a reconnect, and after
// the TTL; reads in flight across an invalidation are not cached.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { Redis } from "ioredis";
import { createScope, recordRedisCommands, startRedis, type RedisCommandLog, type RedisServer } from "@passerelle/testkit";
import type { ConfigChanged } from "@passerelle/contracts";
import type { Bus } from "@passerelle/runtime";
import { UserStore } from "./user-store.ts";

const scope = createScope("policy-user-store");
let server: RedisServer;
let redis: Redis;
let commands: RedisCommandLog;

before(async () => {
  server = await startRedis(scope);
  redis = new Redis(server.url, { maxRetriesPerRequest: 2 });
  // Count the commands sent (what the cache and the batching are there to save).
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

/** A bus that hands config.changed to the store's handler when the test says. */
function fakeBus() {
  let handler: ((payload: ConfigChanged) => void) | undefined;
  const statuses: { type: string }[] = [];
  let wake: (() => void) | undefined;
  const bus = {
    subscribe: (_subject: string, _queue: string | undefined, _required: unknown, h: (payload: ConfigChanged) => void) => {
      handler = h;
      return { drain: async () => undefined };
    },
    nats: {
      status: () => ({
        async *[Symbol.asyncIterator]() {
          for (;;) {
            while (statuses.length > 0) yield statuses.shift()!;
            await new Promise<void>((resolve) => (wake = resolve));
          }
        },
      }),
    },
  } as unknown as Bus;
  return {
    bus,
    changed: (kind: ConfigChanged["kind"], key: string) => handler?.({ v: 1, kind, key }),
    reconnect: async () => {
      statuses.push({ type: "reconnect" });
      wake?.();
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
}

const reads = () => commands.count("get", "sismember");

describe("UserStore cache", () => {
  it("reads a user's facts once, then from memory", async () => {
    await redis.sadd("passerelle:policy:allow:juliet@gw.test", "romeo@p.test");
    const store = new UserStore(redis, () => true);
    assert.deepEqual(await store.factsFor("juliet@gw.test", "romeo@p.test"), { xmppAccess: true, allowed: true });
    const after1 = reads();
    assert.equal(after1, 2);
    for (let i = 0; i < 5; i++) assert.deepEqual(await store.factsFor("juliet@gw.test", "romeo@p.test"), { xmppAccess: true, allowed: true });
    assert.equal(reads(), after1);
    // Another contact of the same user is one more look-up.
    assert.deepEqual(await store.factsFor("juliet@gw.test", "tybalt@p.test"), { xmppAccess: true, allowed: false });
    assert.equal(reads(), after1 + 2);
  });

  it("shares one look-up between stanzas asking at the same time", async () => {
    const store = new UserStore(redis, () => true);
    const answers = await Promise.all(Array.from({ length: 20 }, () => store.factsFor("juliet@gw.test", "romeo@p.test")));
    assert.equal(answers.length, 20);
    assert.equal(reads(), 2);
  });

  it("follows the live default for users without a setting of their own", async () => {
    let dflt = true;
    const store = new UserStore(redis, () => dflt);
    assert.equal((await store.factsFor("juliet@gw.test", "romeo@p.test")).xmppAccess, true);
    dflt = false;
    assert.equal((await store.factsFor("juliet@gw.test", "romeo@p.test")).xmppAccess, false);
  });

  it("drops a user's facts on a config.changed event for the user (another replica's change)", async () => {
    const store = new UserStore(redis, () => true);
    const f = fakeBus();
    const watch = store.watch(f.bus);
    assert.equal((await store.factsFor("juliet@gw.test", "romeo@p.test")).allowed, false);
    // Another replica writes, then publishes the event.
    await redis.sadd("passerelle:policy:allow:juliet@gw.test", "romeo@p.test");
    assert.equal((await store.factsFor("juliet@gw.test", "romeo@p.test")).allowed, false, "cached until the event");
    f.changed("allowlist", "juliet@gw.test");
    assert.equal((await store.factsFor("juliet@gw.test", "romeo@p.test")).allowed, true);
    await redis.set("passerelle:policy:xmpp-access:juliet@gw.test", "0");
    f.changed("user", "juliet@gw.test");
    assert.equal((await store.factsFor("juliet@gw.test", "romeo@p.test")).xmppAccess, false);
    // Events about others or about partners leave the entry alone.
    await redis.set("passerelle:policy:xmpp-access:juliet@gw.test", "1");
    f.changed("allowlist", "someone@gw.test");
    f.changed("partner", "p.test");
    assert.equal((await store.factsFor("juliet@gw.test", "romeo@p.test")).xmppAccess, false);
    // A reconnect may have hidden events: everything is read again.
    await f.reconnect();
    assert.equal((await store.factsFor("juliet@gw.test", "romeo@p.test")).xmppAccess, true);
    await watch.drain();
  });

  it("sees its own changes at once (admin API on this replica)", async () => {
    const store = new UserStore(redis, () => true);
    const by = { actor: "admin" };
    assert.deepEqual(await store.factsFor("juliet@gw.test", "romeo@p.test"), { xmppAccess: true, allowed: false });
    assert.equal(await store.allow("juliet@gw.test", "romeo@p.test", by), true);
    assert.equal((await store.factsFor("juliet@gw.test", "romeo@p.test")).allowed, true);
    await store.setXmppAccess("juliet@gw.test", false, by);
    assert.equal((await store.factsFor("juliet@gw.test", "romeo@p.test")).xmppAccess, false);
    assert.equal(await store.disallow("juliet@gw.test", "romeo@p.test", by), true);
    assert.deepEqual(await store.factsFor("juliet@gw.test", "romeo@p.test"), { xmppAccess: false, allowed: false });
  });

  it("outbound allow: writes a new contact once, then knows it", async () => {
    const store = new UserStore(redis, () => true);
    assert.equal((await store.factsFor("juliet@gw.test", "romeo@p.test")).allowed, false);
    assert.equal(await store.allow("juliet@gw.test", "romeo@p.test"), true);
    assert.equal(await store.allow("juliet@gw.test", "romeo@p.test"), false);
    assert.equal(commands.count("sadd"), 1);
    assert.equal((await store.factsFor("juliet@gw.test", "romeo@p.test")).allowed, true);
    assert.equal(await redis.sismember("passerelle:policy:allow:juliet@gw.test", "romeo@p.test"), 1);
  });

  it("reads again after the TTL", async () => {
    let now = 1_000;
    const store = new UserStore(redis, () => true, { ttlMs: 100, now: () => now });
    assert.equal((await store.factsFor("juliet@gw.test", "romeo@p.test")).allowed, false);
    await redis.sadd("passerelle:policy:allow:juliet@gw.test", "romeo@p.test");
    now += 99;
    assert.equal((await store.factsFor("juliet@gw.test", "romeo@p.test")).allowed, false);
    now += 1;
    assert.equal((await store.factsFor("juliet@gw.test", "romeo@p.test")).allowed, true);
  });

  it("does not cache a read that an invalidation overtook", async () => {
    const store = new UserStore(redis, () => true);
    const pending = store.factsFor("juliet@gw.test", "romeo@p.test");
    // The event arrives while the read is in flight (the value read may be the old one).
    store.invalidate("juliet@gw.test");
    await pending;
    const before = reads();
    await store.factsFor("juliet@gw.test", "romeo@p.test");
    assert.equal(reads(), before + 2);
  });

  it("keeps at most maxUsers users and maxContactsPerUser contacts", async () => {
    const store = new UserStore(redis, () => true, { maxUsers: 2, maxContactsPerUser: 2 });
    for (const u of ["a@gw.test", "b@gw.test", "c@gw.test"]) await store.factsFor(u, "x@p.test");
    let before = reads();
    await store.factsFor("a@gw.test", "x@p.test");
    assert.equal(reads(), before + 2, "the oldest user was dropped");
    for (const c of ["x@p.test", "y@p.test", "z@p.test"]) await store.factsFor("c@gw.test", c);
    before = reads();
    await store.factsFor("c@gw.test", "x@p.test");
    assert.equal(reads(), before + 2, "the oldest contact was dropped");
  });

  it("a Redis failure is an error for the caller and caches nothing", async () => {
    // A client whose connection is closed for good: every command fails at once.
    const broken = new Redis(server.url, { maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
    broken.on("error", () => undefined);
    await new Promise((resolve) => broken.once("ready", resolve));
    broken.disconnect();
    const store = new UserStore(broken, () => true);
    await assert.rejects(store.factsFor("juliet@gw.test", "romeo@p.test"));
    await assert.rejects(store.factsFor("juliet@gw.test", "romeo@p.test"));
  });
});
