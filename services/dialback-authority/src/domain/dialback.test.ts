import { test } from "node:test";
import assert from "node:assert/strict";
import { dialbackKey } from "@passerelle/xmpp";
import { checkFields, makeKey, verifyKey } from "./dialback.ts";

const SECRET = "s3cr3t-s3cr3t-s3cr3t";
const LOCAL = new Set(["gateway.example"]);

test("a key we made verifies; any change of domain, stream id or key does not", () => {
  const key = makeKey(SECRET, { v: 1, receiving: "partner.example", originating: "gateway.example", streamId: "abc" });
  assert.equal(key, dialbackKey(SECRET, "partner.example", "gateway.example", "abc"));
  assert.deepEqual(verifyKey(SECRET, { v: 1, receiving: "partner.example", originating: "gateway.example", streamId: "abc", key }, LOCAL), { v: 1, valid: true });
  assert.deepEqual(verifyKey(SECRET, { v: 1, receiving: "Partner.Example", originating: "gateway.example.", streamId: "abc", key }, LOCAL), { v: 1, valid: true });
  for (const req of [
    { receiving: "other.example", originating: "gateway.example", streamId: "abc", key },
    { receiving: "partner.example", originating: "gateway.example", streamId: "abd", key },
    { receiving: "partner.example", originating: "gateway.example", streamId: "abc", key: key.replace(/^./, (c) => (c === "0" ? "1" : "0")) },
    { receiving: "partner.example", originating: "gateway.example", streamId: "abc", key: key.slice(1) },
  ]) {
    const verdict = verifyKey(SECRET, { v: 1, ...req }, LOCAL);
    assert.equal(verdict.valid, false);
    assert.equal(verdict.reason, "the key does not match");
  }
  assert.equal(verifyKey("another-secret-entirely", { v: 1, receiving: "partner.example", originating: "gateway.example", streamId: "abc", key }, LOCAL).valid, false);
});

test("verification is refused for domains that are not ours, and for malformed fields", () => {
  const key = dialbackKey(SECRET, "partner.example", "elsewhere.example", "abc");
  assert.match(verifyKey(SECRET, { v: 1, receiving: "partner.example", originating: "elsewhere.example", streamId: "abc", key }, LOCAL).reason ?? "", /not one of our domains/);
  assert.match(checkFields({ receiving: "bad domain", originating: "gateway.example", streamId: "x" }) ?? "", /receiving/);
  assert.match(checkFields({ receiving: "a.example", originating: "gateway.example", streamId: "x".repeat(2000) }) ?? "", /stream id/);
  assert.match(checkFields({ receiving: "a.example", originating: "gateway.example", streamId: "x", key: "" }) ?? "", /key/);
  assert.throws(() => makeKey(SECRET, { v: 1, receiving: "", originating: "gateway.example", streamId: "x" }), RangeError);
});
