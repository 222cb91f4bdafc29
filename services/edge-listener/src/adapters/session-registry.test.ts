// The session registry against a real Redis: what an authenticated stream leaves there, its
// refresh and its removal.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { createLogger } from "@passerelle/telemetry";
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
});
