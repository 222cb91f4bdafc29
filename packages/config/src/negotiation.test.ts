import { test } from "node:test";
import assert from "node:assert/strict";
import { evaluateNegotiation, type Negotiation } from "./negotiation.ts";

const R: Negotiation = "required";
const O: Negotiation = "optional";
const N: Negotiation = "not-supported";

// The valid rows of MISSION.md's table, with the methods each leaves the peer.
const validRows: [Negotiation, Negotiation, boolean, string[], number][] = [
  [R, R, false, ["sasl-over-tls"], 0],
  [R, R, true, ["sasl-over-tls"], 1],
  [R, O, true, ["sasl-over-tls", "dialback-over-tls"], 0],
  [R, O, false, ["sasl-over-tls"], 0],
  [R, N, true, ["dialback-over-tls"], 0],
  [O, R, true, ["sasl-over-tls", "dialback-over-tls", "dialback-over-tcp"], 0],
  [O, R, false, ["sasl-over-tls"], 0],
  [O, O, true, ["sasl-over-tls", "dialback-over-tls", "dialback-over-tcp"], 0],
  [O, O, false, ["sasl-over-tls"], 0],
  [O, N, true, ["dialback-over-tls", "dialback-over-tcp"], 0],
  [N, R, true, ["dialback-over-tcp"], 2],
  [N, O, true, ["dialback-over-tcp"], 2],
  [N, N, true, ["dialback-over-tcp"], 1],
];

for (const [tls, sasl, dialback, methods, warnings] of validRows) {
  test(`valid: TLS ${tls} / SASL ${sasl} / dialback ${dialback}`, () => {
    const v = evaluateNegotiation({ tls, sasl, dialback });
    assert.equal(v.valid, true);
    assert.deepEqual(v.methods, methods);
    assert.equal(v.warnings.length, warnings, v.warnings.join("; "));
  });
}

const invalidRows: [Negotiation, Negotiation][] = [
  [R, N],
  [O, N],
  [N, R],
  [N, O],
  [N, N],
];
for (const [tls, sasl] of invalidRows) {
  test(`invalid: TLS ${tls} / SASL ${sasl} / dialback false`, () => {
    const v = evaluateNegotiation({ tls, sasl, dialback: false });
    assert.equal(v.valid, false);
    assert.deepEqual(v.methods, []);
    assert.match(v.reason ?? "", /no way to authenticate/);
    assert.match(v.row, /dialback false/);
  });
}

test("the warning for TLS and SASL Required with dialback says dialback is never used", () => {
  const v = evaluateNegotiation({ tls: R, sasl: R, dialback: true });
  assert.match(v.warnings[0] ?? "", /dialback will never be used/);
});

test("an open stream is closed when the changed entry no longer allows it, naming the change", async () => {
  const { streamNoLongerAllowed } = await import("./partner-entry.ts");
  const entry = (tls: "required" | "optional" | "not-supported", sasl: "required" | "optional" | "not-supported", dialback: boolean) => ({
    domain: "fabrikam.test",
    description: "",
    additionalDomains: [],
    type: "federated" as const,
    tls,
    sasl,
    dialback,
    connectionLimit: 20,
    keepalive: true,
    proxyPort: 5269,
    negotiation: evaluateNegotiation({ tls, sasl, dialback }),
  });
  assert.match(streamNoLongerAllowed("fabrikam.test", undefined, { method: "dialback", tls: true }) ?? "", /no longer a federated partner/);
  assert.match(streamNoLongerAllowed("fabrikam.test", entry("required", "optional", true), { method: "dialback", tls: false }) ?? "", /now requires TLS/);
  assert.equal(streamNoLongerAllowed("fabrikam.test", entry("required", "optional", true), { method: "dialback", tls: true }), undefined);
  assert.match(streamNoLongerAllowed("fabrikam.test", entry("required", "required", true), { method: "dialback", tls: true }) ?? "", /no longer allows dialback over TLS \(TLS Required \/ SASL Required \/ dialback true\)/);
  assert.match(streamNoLongerAllowed("fabrikam.test", entry("optional", "not-supported", true), { method: "sasl-external", tls: true }) ?? "", /no longer allows SASL/);
  assert.equal(streamNoLongerAllowed("fabrikam.test", entry("optional", "optional", true), { method: "sasl-external", tls: true }), undefined);
  assert.equal(streamNoLongerAllowed("fabrikam.test", entry("not-supported", "not-supported", true), { method: "dialback", tls: false }), undefined);
});
