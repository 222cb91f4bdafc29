import { test } from "node:test";
import assert from "node:assert/strict";
import { KeyedChain } from "./keyed-chain.ts";

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("steps of one key run in order even when earlier ones are slower; other keys do not wait", async () => {
  const chain = new KeyedChain();
  const order: string[] = [];
  const a1 = chain.run("a", async () => { await tick(30); order.push("a1"); });
  const a2 = chain.run("a", async () => { order.push("a2"); });
  const b1 = chain.run("b", async () => { order.push("b1"); });
  await Promise.all([a1, a2, b1]);
  assert.deepEqual(order, ["b1", "a1", "a2"]);
  assert.equal(chain.size, 0);
});

test("a failing step does not stop the next one", async () => {
  const chain = new KeyedChain();
  const failed = chain.run("a", async () => { throw new Error("boom"); });
  const next = chain.run("a", async () => 2);
  await assert.rejects(failed, /boom/);
  assert.equal(await next, 2);
});
