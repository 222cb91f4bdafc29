import { test } from "node:test";
import assert from "node:assert/strict";
import type { ResolveReply } from "@passerelle/contracts";
import { S2SError, type VerifyOptions, type VerifyResult } from "@passerelle/s2s";
import { Authorizer, type AuthorizerDeps } from "./authorizer.ts";

const REQ = { v: 1 as const, receiving: "gateway.example", originating: "partner.example", streamId: "s1", key: "ab".repeat(32) };
const TARGETS: ResolveReply = { v: 1, targets: [{ host: "s2s.partner.example", port: 5269, directTls: false, priority: 0, weight: 0 }] };

function deps(over: Partial<AuthorizerDeps> = {}): AuthorizerDeps & { seen: VerifyOptions[] } {
  const seen: VerifyOptions[] = [];
  return {
    seen,
    resolve: async () => TARGETS,
    verify: async (o) => (seen.push(o), { valid: true, target: "s2s.partner.example:5269", tls: undefined }),
    tlsPolicyFor: (d) => (d === "partner.example" ? "required" : "optional"),
    localDomains: new Set(["gateway.example"]),
    tlsMaterial: () => undefined,
    limits: { maxStanzaBytes: 65536, maxDepth: 32, maxAttributesPerElement: 32, maxHeaderBytes: 4096 },
    budgetMs: 2000,
    ...over,
  };
}

test("a valid answer from the authoritative server; the partner's TLS policy is used", async () => {
  const d = deps();
  const result = await new Authorizer(d).authorize(REQ);
  assert.deepEqual(result, { verdict: { v: 1, valid: true }, outcome: "valid" });
  assert.equal(d.seen[0]?.tls, "required");
  assert.equal(d.seen[0]?.localDomain, "gateway.example");
  assert.equal(d.seen[0]?.remoteDomain, "partner.example");
  assert.equal(d.seen[0]?.streamId, "s1");
});

test("every failure is a verdict with a reason", async () => {
  const cases: [Partial<AuthorizerDeps>, string, RegExp][] = [
    [{ resolve: async () => ({ v: 1, targets: [], error: "SERVFAIL" }) }, "dns", /no server found.*SERVFAIL/],
    [{ resolve: async () => Promise.reject(new Error("NATS timeout")) }, "dns", /NATS timeout/],
    [{ verify: async () => Promise.reject(new S2SError("connect", "connection refused")) }, "connect", /connection refused/],
    [{ verify: async () => Promise.reject(new S2SError("tls", "does not offer STARTTLS")) }, "tls", /STARTTLS/],
    [{ verify: async (): Promise<VerifyResult> => ({ valid: false, target: "t:1", tls: undefined }) }, "invalid", /key is invalid/],
    [{ verify: () => new Promise<VerifyResult>(() => undefined), budgetMs: 100 }, "timeout", /no answer within 100 ms/],
  ];
  for (const [over, outcome, reason] of cases) {
    const result = await new Authorizer(deps(over)).authorize(REQ);
    assert.equal(result.outcome, outcome);
    assert.equal(result.verdict.valid, false);
    assert.match(result.verdict.reason ?? "", reason);
  }
});

test("requests that are not for us are refused without any connection", async () => {
  const d = deps();
  const a = new Authorizer(d);
  assert.equal((await a.authorize({ ...REQ, receiving: "someone.else" })).outcome, "bad-request");
  assert.equal((await a.authorize({ ...REQ, originating: "gateway.example" })).outcome, "bad-request");
  assert.equal((await a.authorize({ ...REQ, key: "" })).outcome, "bad-request");
  assert.equal(d.seen.length, 0);
});
