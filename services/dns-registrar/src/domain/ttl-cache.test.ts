import { test } from "node:test";
import assert from "node:assert/strict";
import { TtlCache } from "./ttl-cache.ts";

test("entries expire after their TTL", () => {
  let now = 1000;
  const cache = new TtlCache<string>(10, () => now);
  cache.set("a", "A", 500);
  assert.equal(cache.get("a"), "A");
  now = 1499;
  assert.equal(cache.get("a"), "A");
  now = 1500;
  assert.equal(cache.get("a"), undefined);
  assert.equal(cache.size, 0);
});

test("the cache is bounded and evicts the least recently used entry", () => {
  const cache = new TtlCache<number>(3, () => 0);
  cache.set("a", 1, 1000);
  cache.set("b", 2, 1000);
  cache.set("c", 3, 1000);
  assert.equal(cache.get("a"), 1);
  cache.set("d", 4, 1000);
  assert.equal(cache.size, 3);
  assert.equal(cache.get("b"), undefined);
  assert.equal(cache.get("a"), 1);
  assert.equal(cache.get("d"), 4);
});

test("a zero TTL is not stored", () => {
  const cache = new TtlCache<number>(3);
  cache.set("a", 1, 0);
  assert.equal(cache.get("a"), undefined);
});
