// The outbound pool's connection-limit step (the count itself, across replicas, is the session
// registry's, tested against a real Redis): a link over the partner's limit is never dialled and
// its stanzas fail with `wait` / resource-constraint; an admitted link that cannot be set up gives
// its slot back.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Partner } from "@passerelle/config";
import type { StanzaErrorInfo } from "@passerelle/contracts";
import { createLogger, Registry } from "@passerelle/telemetry";
import { OutboundPool, type OutboundPoolOptions, type SendReceipt } from "./outbound-pool.ts";

const partner = { domain: "partner.test", tls: "required", sasl: "optional", dialback: true, connectionLimit: 3, keepalive: false } as unknown as Partner;

function fixture(admit: OutboundPoolOptions["admit"]) {
  const calls = { resolve: 0, admit: [] as { domain: string; linkId: string; limit: number }[], released: [] as string[] };
  const metrics = new Registry();
  const pool = new OutboundPool({
    findPartner: (domain) => (domain === "partner.test" ? partner : undefined),
    resolve: () => {
      calls.resolve++;
      return Promise.reject(new Error("no such host"));
    },
    dialbackKey: () => Promise.resolve("key"),
    bounce: () => assert.fail("a stanza with a receipt is not bounced"),
    tls: undefined,
    tlsFiles: undefined,
    dnsServer: undefined,
    limits: { maxStanzaBytes: 65536, maxDepth: 32, maxAttributesPerElement: 32, maxHeaderBytes: 4096 },
    establishmentTimeoutMs: 1000,
    idleTimeoutMs: 1000,
    keepaliveIntervalMs: 1000,
    connectionLimit: 10,
    ...(admit === undefined
      ? {}
      : {
          admit: (domain: string, linkId: string, limit: number) => {
            calls.admit.push({ domain, linkId, limit });
            return admit(domain, linkId, limit);
          },
        }),
    released: (linkId) => calls.released.push(linkId),
    maxQueued: 10,
    log: createLogger("outbound-pool-test", "silent"),
    metrics,
  });
  return { pool, calls, metrics };
}

function receipt(): { receipt: SendReceipt; outcome: Promise<StanzaErrorInfo | "sent"> } {
  let settle!: (v: StanzaErrorInfo | "sent") => void;
  const outcome = new Promise<StanzaErrorInfo | "sent">((resolve) => (settle = resolve));
  return { receipt: { expired: () => false, sent: () => settle("sent"), failed: (error) => settle(error) }, outcome };
}

test("over the partner's limit across the gateway: not dialled, the stanza fails with wait / resource-constraint naming the limit", async () => {
  const text = "the partner connection limit (3 outbound streams to partner.test across the gateway) is reached";
  const { pool, calls, metrics } = fixture(() => Promise.resolve(text));
  const r = receipt();
  pool.send("gateway.test", "partner.test", "<message/>", "chat", r.receipt);
  assert.deepEqual(await r.outcome, { type: "wait", condition: "resource-constraint", text });
  assert.equal(calls.resolve, 0, "no DNS lookup, no connection");
  assert.deepEqual(calls.admit.map((a) => [a.domain, a.limit]), [["partner.test", 3]]);
  assert.deepEqual(calls.released, [], "nothing was admitted, nothing to give back");
  assert.match(await metrics.metrics(), /passerelle_edge_outbound_connects_total\{outcome="limit",method="none"\} 1/);
  // The link was forgotten: the next stanza asks again.
  const again = receipt();
  pool.send("gateway.test", "partner.test", "<message/>", "chat", again.receipt);
  assert.equal(((await again.outcome) as StanzaErrorInfo).condition, "resource-constraint");
  assert.equal(calls.admit.length, 2);
  await pool.close();
});

test("admitted, then the link cannot be set up: its slot is given back under the id it was admitted with", async () => {
  const { pool, calls } = fixture(() => Promise.resolve(undefined));
  const r = receipt();
  pool.send("gateway.test", "partner.test", "<message/>", "chat", r.receipt);
  const outcome = (await r.outcome) as StanzaErrorInfo;
  assert.equal(outcome.condition, "remote-server-not-found");
  assert.equal(calls.resolve, 1);
  assert.equal(calls.admit.length, 1);
  assert.deepEqual(calls.released, [calls.admit[0]?.linkId]);
  await pool.close();
});
