import assert from "node:assert/strict";
import { test } from "node:test";
import { ChatStateMemory, conversationOf } from "./chat-state-memory.ts";

test("a state repeats only the last one sent on the same conversation, within the TTL", () => {
  let now = 0;
  const m = new ChatStateMemory({ ttlMs: 1000, maxEntries: 10, now: () => now });
  const c = conversationOf("romeo@partner.example/orchard", "Juliet@contoso.com");
  assert.equal(c, "romeo@partner.example|juliet@contoso.com");
  assert.equal(m.isRepeat(c, "active"), false, "nothing sent yet");
  m.sent(c, "active");
  assert.equal(m.isRepeat(c, "active"), true);
  assert.equal(m.isRepeat(c, "idle"), false);
  assert.equal(m.isRepeat(conversationOf("juliet@contoso.com", "romeo@partner.example"), "active"), false, "the other direction is another conversation");
  now = 1000;
  assert.equal(m.isRepeat(c, "active"), false, "forgotten after the TTL");
  assert.equal(m.size, 0);
});

test("bounded: the least recently used conversation goes first", () => {
  const m = new ChatStateMemory({ ttlMs: 60_000, maxEntries: 2 });
  m.sent("a", "idle");
  m.sent("b", "idle");
  m.sent("a", "active"); // a is now the most recent
  m.sent("c", "idle");
  assert.equal(m.size, 2);
  assert.equal(m.isRepeat("b", "idle"), false, "b was dropped");
  assert.equal(m.isRepeat("a", "active"), true);
  assert.equal(m.isRepeat("c", "idle"), true);
});
