import { test } from "node:test";
import assert from "node:assert/strict";
import { MAX_SRV_RECORDS, normalizeHostName, orderSrvRecords, planResolution, validateSrvRecords, type SrvRecord } from "./srv.ts";

const rec = (name: string, priority: number, weight: number, port = 5269): SrvRecord => ({ name, port, priority, weight });

/** A deterministic random source returning the given values in turn. */
function sequence(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length] ?? 0;
}

test("host names are normalized and anything that is not an LDH host name is refused", () => {
  assert.equal(normalizeHostName("S2S.Partner.Example."), "s2s.partner.example");
  assert.equal(normalizeHostName("bücher.example"), "xn--bcher-kva.example");
  for (const bad of ["", ".", "a..b", "-a.example", "a_b.example", "a b.example", "x".repeat(64) + ".example", `${"a.".repeat(127)}a`, "<script>"]) {
    assert.equal(normalizeHostName(bad), undefined, bad);
  }
});

test("a single '.' target means no service (RFC 2782)", () => {
  assert.deepEqual(validateSrvRecords([rec(".", 0, 0, 0)]), { records: [], noService: true, rejected: [] });
  assert.deepEqual(validateSrvRecords([rec("", 0, 0, 0)]).noService, true);
});

test("invalid records are dropped with a reason; valid ones are kept lowest priority first", () => {
  const result = validateSrvRecords([rec("b.example", 20, 0), rec("bad name", 0, 0), rec("a.example", 10, 5), rec("p.example", 0, 0, 0), rec("q.example", 0, 70000), rec("r.example", 0, 0, 99999)]);
  assert.deepEqual(result.records.map((r) => r.name), ["a.example", "b.example"]);
  assert.equal(result.rejected.length, 4);
  assert.equal(result.noService, false);
});

test("the number of records is capped", () => {
  const many = Array.from({ length: 500 }, (_, i) => rec(`h${i}.example`, i % 7, 1));
  const result = validateSrvRecords(many);
  assert.equal(result.records.length, MAX_SRV_RECORDS);
  assert.ok(result.records.every((r) => r.priority <= 1));
  assert.ok(result.rejected.some((r) => r.includes("ignored")));
});

test("RFC 2782 ordering: priority ascending, weighted choice inside a priority", () => {
  const records = [rec("late.example", 20, 0), rec("heavy.example", 10, 90), rec("light.example", 10, 10), rec("zero.example", 10, 0)];
  // total 100: a pick of 0 selects the weight-0 record (it is first in the running sum).
  assert.deepEqual(orderSrvRecords(records, sequence(0, 0, 0, 0)).map((r) => r.name), ["zero.example", "heavy.example", "light.example", "late.example"]);
  // pick 95 of 100 → light (running sums 0, 90, 100); then 0.99 of 90 → heavy; then zero.
  assert.deepEqual(orderSrvRecords(records, sequence(0.95, 0.99, 0.5, 0)).map((r) => r.name), ["light.example", "heavy.example", "zero.example", "late.example"]);
});

test("weights shape the frequency of first choice", () => {
  const records = [rec("a.example", 0, 80), rec("b.example", 0, 20)];
  let first = 0;
  for (let i = 0; i < 2000; i++) if (orderSrvRecords(records)[0]?.name === "a.example") first++;
  assert.ok(first > 1400 && first < 1800, `a first ${first} times of 2000`);
});

test("plan: direct TLS targets first, then STARTTLS ones", async () => {
  const plan = await planResolution("partner.example", {
    directTls: { kind: "records", records: [rec("tls.partner.example", 0, 0, 5270)] },
    startTls: { kind: "records", records: [rec("s2s.partner.example", 0, 0)] },
  });
  assert.deepEqual(plan, {
    targets: [
      { host: "tls.partner.example", port: 5270, directTls: true, priority: 0, weight: 0 },
      { host: "s2s.partner.example", port: 5269, directTls: false, priority: 0, weight: 0 },
    ],
    source: "srv",
  });
});

test("plan: no SRV at all falls back to the domain on 5269 if it has an address", async () => {
  const none = { kind: "none" } as const;
  assert.deepEqual(await planResolution("p.example", { directTls: none, startTls: none, hasAddress: async () => true }), {
    targets: [{ host: "p.example", port: 5269, directTls: false, priority: 0, weight: 0 }],
    source: "fallback",
  });
  assert.deepEqual(await planResolution("p.example", { directTls: none, startTls: none, hasAddress: async () => false }), { targets: [], source: "none" });
  assert.deepEqual(await planResolution("p.example", { directTls: none, startTls: none, hasAddress: async () => ({ error: "timeout" }) }), { targets: [], source: "none", error: "timeout" });
});

test("plan: '.' on _xmpp-server means no service and no fallback; a failed lookup is an error", async () => {
  const plan = await planResolution("p.example", { directTls: { kind: "none" }, startTls: { kind: "no-service" }, hasAddress: async () => true });
  assert.equal(plan.targets.length, 0);
  assert.match(plan.error ?? "", /no XMPP server-to-server service/);
  const failed = await planResolution("p.example", { directTls: { kind: "error", error: "SERVFAIL" }, startTls: { kind: "none" }, hasAddress: async () => true });
  assert.deepEqual(failed, { targets: [], source: "none", error: "SERVFAIL" });
});
