import { test } from "node:test";
import assert from "node:assert/strict";
import { FifoLimiter } from "./fifo-limiter.ts";

test("never more than the limit at once, started in arrival order", async () => {
  const limiter = new FifoLimiter(3);
  const started: number[] = [];
  let concurrent = 0;
  let peak = 0;
  const jobs = Array.from({ length: 20 }, (_, i) =>
    limiter.run(async () => {
      started.push(i);
      concurrent++;
      peak = Math.max(peak, concurrent);
      await new Promise((r) => setTimeout(r, (i * 7) % 5));
      concurrent--;
      return i;
    }),
  );
  assert.deepEqual(await Promise.all(jobs), Array.from({ length: 20 }, (_, i) => i));
  assert.equal(peak, 3);
  assert.deepEqual(started, Array.from({ length: 20 }, (_, i) => i));
  assert.equal(limiter.active, 0);
  assert.equal(limiter.queued, 0);
});

test("a failing operation frees its slot", async () => {
  const limiter = new FifoLimiter(1);
  await assert.rejects(limiter.run(async () => Promise.reject(new Error("boom"))));
  assert.equal(await limiter.run(async () => 42), 42);
});
