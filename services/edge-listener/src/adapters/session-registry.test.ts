// The session registry against a real Redis: what an authenticated stream leaves there, its
// refresh and its removal.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { createLogger, Registry } from "@passerelle/telemetry";
import { createScope, startRedis } from "@passerelle/testkit";
import { SessionRegistry } from "./session-registry.ts";

describe("SessionRegistry", () => {
  const scope = createScope("session-registry");
  let redis: Redis;

  before(async () => {
    const server = await startRedis(scope, { host: "127.0.0.1" });
    redis = new Redis(server.url, { lazyConnect: false, maxRetriesPerRequest: 2 });
    scope.defer("redis client", () => void redis.disconnect());
  });
  after(() => scope.close());

  const waitFor = async (check: () => Promise<boolean>, what: string): Promise<void> => {
    for (let i = 0; i < 100; i++) {
      if (await check()) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.fail(`timed out waiting for ${what}`);
  };

  it("records a stream (replica, domains, method, tls, since), lists it under the replica, removes both on close", async () => {
    const registry = new SessionRegistry(redis, "edge-listener-7", createLogger("session-registry-test", "warn"));
    const before = Date.now();
    registry.add("s1", { domains: ["a.test", "b.test"], method: "dialback", tls: true });
    await waitFor(async () => (await redis.exists("passerelle:edge:stream:s1")) === 1, "the stream hash");
    const hash = await redis.hgetall("passerelle:edge:stream:s1");
    assert.equal(hash.replica, "edge-listener-7");
    assert.equal(hash.domains, "a.test b.test");
    assert.equal(hash.method, "dialback");
    assert.equal(hash.tls, "true");
    const since = Date.parse(hash.since ?? "");
    assert.ok(since >= before - 1000 && since <= Date.now(), `since is the time of the add: ${hash.since}`);
    assert.ok((await redis.ttl("passerelle:edge:stream:s1")) > 0, "the hash expires unless refreshed");
    assert.deepEqual(await redis.smembers("passerelle:edge:replica:edge-listener-7"), ["s1"]);

    registry.remove("s1");
    await waitFor(async () => (await redis.exists("passerelle:edge:stream:s1")) === 0, "the hash removed");
    assert.deepEqual(await redis.smembers("passerelle:edge:replica:edge-listener-7"), []);
    await registry.stop();
  });

  it("stop() removes what this replica recorded", async () => {
    const registry = new SessionRegistry(redis, "edge-listener-8", createLogger("session-registry-test", "warn"));
    registry.add("s2", { domains: ["c.test"], method: "sasl-external", tls: true });
    await waitFor(async () => (await redis.exists("passerelle:edge:stream:s2")) === 1, "the stream hash");
    assert.equal((await redis.hgetall("passerelle:edge:stream:s2")).method, "sasl-external");
    await registry.stop();
    assert.equal(await redis.exists("passerelle:edge:stream:s2", "passerelle:edge:replica:edge-listener-8"), 0);
  });

  describe("connection limits across replicas", () => {
    const quiet = createLogger("session-registry-test", "warn");
    const limits = { partner: 2, gateway: 3 };
    const members = (key: string): Promise<string[]> => redis.zrange(key, 0, -1);

    it("a partner limit reached by two replicas together refuses the next stream on either, and a release makes room", async () => {
      const a = new SessionRegistry(redis, "edge-a", quiet);
      const b = new SessionRegistry(redis, "edge-b", quiet);
      assert.deepEqual(await a.acquire("inbound", "p1.test", "s1", limits), { admitted: true });
      assert.deepEqual(await b.acquire("inbound", "p1.test", "s2", limits), { admitted: true });
      const refused = await a.acquire("inbound", "p1.test", "s3", limits);
      assert.equal(refused.admitted, false);
      assert.ok(!refused.admitted && refused.limit === "partner" && refused.text.includes("(2 inbound streams from p1.test"), JSON.stringify(refused));
      assert.deepEqual((await members("passerelle:edge:limit:inbound:partner:p1.test")).sort(), ["edge-a|s1", "edge-b|s2"]);
      // Another direction and another partner are counted apart.
      assert.deepEqual(await b.acquire("outbound", "p1.test", "o1", limits), { admitted: true });
      b.release("inbound", "s2");
      await waitFor(async () => (await members("passerelle:edge:limit:inbound:partner:p1.test")).length === 1, "the release");
      assert.deepEqual(await a.acquire("inbound", "p1.test", "s3", limits), { admitted: true });
      await a.stop();
      await b.stop();
      assert.equal(await redis.exists("passerelle:edge:limit:inbound:partner:p1.test", "passerelle:edge:limit:outbound:partner:p1.test"), 0);
    });

    it("a refresh while a check is in flight does not count the stream: a refused one leaves nothing behind", async () => {
      const a = new SessionRegistry(redis, "edge-a", quiet);
      assert.equal((await a.acquire("inbound", "r1.test", "s1", limits)).admitted, true);
      assert.equal((await a.acquire("inbound", "r1.test", "s2", limits)).admitted, true);
      // The third check is still on its way to Redis when the periodic refresh runs.
      const checking = a.acquire("inbound", "r1.test", "s3", limits);
      await a.refresh();
      const refused = await checking;
      assert.equal(refused.admitted, false);
      assert.deepEqual((await members("passerelle:edge:limit:inbound:partner:r1.test")).sort(), ["edge-a|s1", "edge-a|s2"]);
      await a.refresh();
      assert.deepEqual((await members("passerelle:edge:limit:inbound:partner:r1.test")).sort(), ["edge-a|s1", "edge-a|s2"]);
      await a.stop();
    });

    it("the gateway limit counts every partner's streams across replicas, a stream once whatever its domains", async () => {
      const a = new SessionRegistry(redis, "edge-a", quiet);
      const b = new SessionRegistry(redis, "edge-b", quiet);
      assert.equal((await a.acquire("inbound", "g1.test", "s1", limits)).admitted, true);
      // Dialback may authenticate a second domain on the same stream: still one stream.
      assert.equal((await a.acquire("inbound", "g2.test", "s1", limits)).admitted, true);
      assert.equal((await b.acquire("inbound", "g2.test", "s2", limits)).admitted, true);
      assert.equal((await b.acquire("inbound", "g3.test", "s3", limits)).admitted, true);
      const refused = await a.acquire("inbound", "g4.test", "s4", limits);
      assert.ok(!refused.admitted && refused.limit === "gateway" && refused.text.includes("(3 inbound streams)"), JSON.stringify(refused));
      // Releasing s1 frees its two partner slots and its one gateway slot.
      a.release("inbound", "s1");
      await waitFor(async () => (await members("passerelle:edge:limit:inbound:gateway")).length === 2, "the release");
      assert.deepEqual(await members("passerelle:edge:limit:inbound:partner:g1.test"), []);
      assert.equal((await a.acquire("inbound", "g4.test", "s4", limits)).admitted, true);
      await a.stop();
      await b.stop();
    });

    it("a replica that died without releasing stops counting once its entries lapse; a live replica's refresh keeps its own", async () => {
      const dead = new SessionRegistry(redis, "edge-dead", quiet, { ttlSeconds: 1 });
      const alive = new SessionRegistry(redis, "edge-alive", quiet, { ttlSeconds: 1 });
      const one = { partner: 1, gateway: 100 };
      assert.equal((await dead.acquire("inbound", "x.test", "d1", one)).admitted, true);
      assert.equal((await alive.acquire("inbound", "y.test", "l1", one)).admitted, true);
      assert.equal((await alive.acquire("inbound", "x.test", "l2", one)).admitted, false, "the dead replica's stream still counts before it lapses");
      // "dead" never refreshes nor releases (its process is gone); "alive" refreshes its own.
      for (let i = 0; i < 6; i++) {
        await new Promise((r) => setTimeout(r, 250));
        await alive.refresh();
      }
      assert.equal((await alive.acquire("inbound", "x.test", "l2", one)).admitted, true, "the lapsed entry was pruned by the check");
      assert.deepEqual(await members("passerelle:edge:limit:inbound:partner:x.test"), ["edge-alive|l2"]);
      assert.equal((await dead.acquire("inbound", "y.test", "d2", one)).admitted, false, "the refreshed entry of the live replica still counts");
      await alive.stop();
      await dead.stop();
    });

    it("counts on this replica alone (and says so) when Redis does not answer", async () => {
      const metrics = new Registry();
      const down = new Redis("redis://127.0.0.1:1", { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
      down.on("error", () => undefined);
      const registry = new SessionRegistry(down, "edge-alone", quiet, { metrics });
      const one = { partner: 1, gateway: 100 };
      assert.equal((await registry.acquire("inbound", "z.test", "s1", one)).admitted, true);
      const refused = await registry.acquire("inbound", "z.test", "s2", one);
      assert.ok(!refused.admitted && refused.limit === "partner", JSON.stringify(refused));
      assert.equal((await registry.acquire("outbound", "z.test", "o1", one)).admitted, true);
      registry.release("inbound", "s1");
      assert.equal((await registry.acquire("inbound", "z.test", "s3", one)).admitted, true);
      assert.match(await metrics.metrics(), /passerelle_edge_limit_fallbacks_total\{direction="inbound"\} 3/);
      await registry.stop();
      down.disconnect();
    });
  });
});
