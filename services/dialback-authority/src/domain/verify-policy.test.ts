import { test } from "node:test";
import assert from "node:assert/strict";
import { verifyTlsPolicy } from "./verify-policy.ts";

test("the verification stream's TLS policy follows the partner entry", () => {
  assert.equal(verifyTlsPolicy({ tls: "required" }), "required");
  assert.equal(verifyTlsPolicy({ tls: "not-supported" }), "not-supported");
  assert.equal(verifyTlsPolicy(undefined), "optional");
});
