import { test } from "node:test";
import assert from "node:assert/strict";
import { createLogger } from "@passerelle/telemetry";
import type { StanzaErrorInfo } from "@passerelle/contracts";
import { OutboundDeliveries } from "./outbound-deliveries.ts";
import type { SendReceipt } from "./outbound-pool.ts";

const log = createLogger("test", "silent");
const request = { v: 1 as const, id: "m1", localDomain: "gateway.test", remoteDomain: "Partner.test", xml: "<message/>" };

function fixture(deadlineMs = 1000) {
  const calls: { remote: string; receipt: SendReceipt }[] = [];
  const deliveries = new OutboundDeliveries({
    send: (_local, remote, _xml, _type, receipt) => calls.push({ remote, receipt }),
    localDomains: new Set(["gateway.test"]),
    maxStanzaBytes: 100,
    deadlineMs,
    log,
  });
  return { calls, deliveries };
}

test("replies sent once the pool wrote the stanza; hands it over before any await (order kept)", async () => {
  const { calls, deliveries } = fixture();
  const first = deliveries.handle(request);
  const second = deliveries.handle({ ...request, id: "m2" });
  assert.deepEqual(calls.map((c) => c.remote), ["partner.test", "partner.test"]);
  calls[0]?.receipt.sent();
  calls[1]?.receipt.sent();
  assert.deepEqual(await first, { v: 1, id: "m1", outcome: "sent" });
  assert.deepEqual(await second, { v: 1, id: "m2", outcome: "sent" });
});

test("replies with the pool's error when the link cannot be set up", async () => {
  const { calls, deliveries } = fixture();
  const reply = deliveries.handle(request);
  const error: StanzaErrorInfo = { type: "cancel", condition: "remote-server-not-found" };
  calls[0]?.receipt.failed(error);
  assert.deepEqual(await reply, { v: 1, id: "m1", outcome: "failed", error });
});

test("after the deadline: remote-server-timeout, and the stanza is marked expired for the pool", async () => {
  const { calls, deliveries } = fixture(20);
  const reply = await deliveries.handle(request);
  assert.equal(reply.outcome, "failed");
  assert.equal(reply.error?.condition, "remote-server-timeout");
  assert.equal(calls[0]?.receipt.expired(), true);
  calls[0]?.receipt.sent(); // late: ignored
});

test("refuses bad requests without calling the pool", async () => {
  const { calls, deliveries } = fixture();
  for (const bad of [
    { ...request, localDomain: "other.test" },
    { ...request, remoteDomain: "gateway.test" },
    { ...request, remoteDomain: "x".repeat(2000) },
    { ...request, xml: "<message>" + "x".repeat(200) + "</message>" },
    { ...request, xml: "" },
  ]) {
    const reply = await deliveries.handle(bad);
    assert.equal(reply.outcome, "failed");
    assert.equal(reply.error?.condition, "bad-request");
  }
  assert.equal(calls.length, 0);
});
