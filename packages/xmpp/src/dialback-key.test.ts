import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { dialbackKey, keysEqual } from "./dialback-key.ts";

// The vector of XEP-0185 §3, checked independently with:
//   key=$(printf '%s' 's3cr3tf0rd14lb4ck' | openssl dgst -sha256 | awk '{print $2}')
//   printf '%s' 'xmpp.example.com example.org D60000229F' | openssl dgst -sha256 -hmac "$key"
//   → 37c69b1cf07a3f67c04a5ef5902fa5114f2c76fe4a2686482ba5b89323075643
const VECTOR = "37c69b1cf07a3f67c04a5ef5902fa5114f2c76fe4a2686482ba5b89323075643";

function opensslKey(secret: string, text: string): string | undefined {
  const hash = spawnSync("openssl", ["dgst", "-sha256"], { input: secret, encoding: "utf8" });
  if (hash.status !== 0) return undefined;
  const hexSecret = hash.stdout.trim().split(" ").pop() ?? "";
  const hmac = spawnSync("openssl", ["dgst", "-sha256", "-hmac", hexSecret], {
    input: text,
    encoding: "utf8",
  });
  return hmac.status === 0 ? hmac.stdout.trim().split(" ").pop() : undefined;
}

describe("dialbackKey", () => {
  it("matches the XEP-0185 example", () => {
    assert.equal(dialbackKey("s3cr3tf0rd14lb4ck", "xmpp.example.com", "example.org", "D60000229F"), VECTOR);
  });

  it("matches openssl on other inputs", (t) => {
    const expected = opensslKey("another secret ✓", "b.example a.example 7f3a-ü");
    if (expected === undefined) return t.skip("openssl not available");
    assert.equal(dialbackKey("another secret ✓", "b.example", "a.example", "7f3a-ü"), expected);
  });

  it("binds the key to each input", () => {
    const base = dialbackKey("s", "r.example", "o.example", "id1");
    assert.notEqual(dialbackKey("s", "o.example", "r.example", "id1"), base);
    assert.notEqual(dialbackKey("s", "r.example", "o.example", "id2"), base);
    assert.notEqual(dialbackKey("t", "r.example", "o.example", "id1"), base);
  });
});

describe("keysEqual", () => {
  it("compares exactly, false on any difference or length mismatch", () => {
    assert.equal(keysEqual(VECTOR, VECTOR), true);
    assert.equal(keysEqual(VECTOR, VECTOR.replace(/.$/, "4")), false);
    assert.equal(keysEqual(VECTOR, VECTOR.slice(1)), false);
    assert.equal(keysEqual("", ""), true);
    assert.equal(keysEqual("é", "e"), false);
  });
});
