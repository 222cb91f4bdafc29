import { test } from "node:test";
import assert from "node:assert/strict";
import { SipParseError } from "./errors.ts";
import { BRANCH_MAGIC_COOKIE, formatVia, generateBranch, generateCallId, generateTag, parseVia } from "./via.ts";

test("parses a Via (RFC 3261 §20.42)", () => {
  const v = parseVia("SIP / 2.0 / udp first.example.com:4000;ttl=16;maddr=224.2.0.1 ;branch=z9hG4bKa7c6a8dlze.1");
  assert.equal(v.transport, "UDP");
  assert.equal(v.host, "first.example.com");
  assert.equal(v.port, 4000);
  assert.equal(v.params.get("branch"), "z9hG4bKa7c6a8dlze.1");
  assert.equal(formatVia(v), "SIP/2.0/UDP first.example.com:4000;ttl=16;maddr=224.2.0.1;branch=z9hG4bKa7c6a8dlze.1");
  assert.equal(formatVia(parseVia("SIP/2.0/TCP [2001:db8::1]:5060;rport;received=192.0.2.1")), "SIP/2.0/TCP [2001:db8::1]:5060;rport;received=192.0.2.1");
});

test("branches carry the magic cookie and are unique (RFC 3261 §8.1.1.7)", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    const b = generateBranch();
    assert.ok(b.startsWith(BRANCH_MAGIC_COOKIE));
    assert.match(b, /^[A-Za-z0-9]+$/);
    seen.add(b);
  }
  assert.equal(seen.size, 1000);
  assert.match(generateTag(), /^[0-9a-f]{16}$/);
});

test("refuses malformed Via values", () => {
  for (const bad of ["SIP/3.0/UDP a.com", "SIP/2.0 a.com", "SIP/2.0/UDP", "SIP/2.0/UDP a.com:99999", "SIP/2.0/UDP a.com;branch=a b"]) {
    assert.throws(() => parseVia(bad), SipParseError, bad);
  }
});

test("branches, tags and Call-IDs stay unique across refills of the random pool", () => {
  const seen = new Set<string>();
  // 4096-byte pool: 3,000 of each is several refills.
  for (let i = 0; i < 3000; i++) {
    for (const id of [generateBranch(), generateTag(), generateCallId("h.test")]) {
      assert.equal(seen.has(id), false, `duplicate ${id}`);
      seen.add(id);
    }
  }
  assert.match(generateTag(), /^[0-9a-f]{16}$/);
  assert.match(generateCallId("h.test"), /^[0-9a-f]{24}@h\.test$/);
});
