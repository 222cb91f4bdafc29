// A partner's connection limit counted across edge replicas (Lync's per-partner `connectionLimit`):
// two real edge-listener processes share one Redis; partner.test may hold one inbound stream.
//
//   partner.test opens a stream to replica 0 (STARTTLS + SASL EXTERNAL): accepted.
//   partner.test opens a second stream to replica 1: refused with <resource-constraint/>, whose
//     text names the limit — replica 1 itself holds no stream of partner.test.
//   The first stream closes; partner.test opens a new one to replica 1: accepted.
//
//   partner.test   federated, TLS required, SASL optional, connectionLimit 1
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { after, before, describe, it } from "node:test";
import type { RawConfig } from "@passerelle/config";
import { startGateway, type RunningService } from "@passerelle/launcher";
import { connectRedis } from "@passerelle/runtime";
import { createLogger } from "@passerelle/telemetry";
import { createScope, createTestCa, freePort, startNats, startRedis } from "@passerelle/testkit";
import { NS } from "@passerelle/xmpp";
import { RawS2SClient, type TlsIdentity } from "./lib/raw-s2s-client.ts";

const HOST = "127.0.0.1";
const GATEWAY = "gateway.test";
const PARTNER = "partner.test";
const WAIT_MS = 8000;
const PARTNER_SET = `passerelle:edge:limit:inbound:partner:${PARTNER}`;

/** A port whose next one is free too (replica 1 listens on the configured port + 1). */
async function twoFreePorts(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await freePort(HOST);
    const free = await new Promise<boolean>((resolve) => {
      const probe = createServer();
      probe.once("error", () => resolve(false));
      probe.listen(port + 1, HOST, () => probe.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error("no two consecutive free ports");
}

describe("connection limits across edge replicas", { timeout: 60_000 }, () => {
  const scope = createScope("connection-limits");
  let identity: TlsIdentity;
  let edges: RunningService[];
  let edgePort: number;
  let redis: ReturnType<typeof connectRedis>;

  before(async () => {
    const ca = await createTestCa(scope.dir("pki"));
    const gatewayCert = await ca.issue({ domains: [GATEWAY], srvId: true });
    const partnerCert = await ca.issue({ domains: [PARTNER], srvId: true });
    identity = { cert: readFileSync(partnerCert.certFile), key: readFileSync(partnerCert.keyFile), ca: readFileSync(ca.certFile) };
    const [nats, redisServer] = await Promise.all([startNats(scope, { host: HOST }), startRedis(scope, { host: HOST })]);
    redis = connectRedis(redisServer.url, createLogger("connection-limits-test", "warn"));
    scope.defer("redis client", () => void redis.disconnect());
    edgePort = await twoFreePorts();
    const http = async () => ({ http: { host: HOST, port: await freePort(HOST) } });
    const config: RawConfig = {
      domains: [{ xmpp: GATEWAY }],
      gateway: { edgeFqdn: GATEWAY, dialback: { secret: "connection-limits-dialback-secret-01" } },
      edge: { listen: { host: HOST, port: edgePort }, tls: { certFile: gatewayCert.certFile, keyFile: gatewayCert.keyFile, caFile: ca.certFile } },
      nats: { url: nats.url },
      redis: { url: redisServer.url },
      dns: { server: `${HOST}:${await freePort(HOST)}` },
      sip: { proxy: { host: HOST, port: await freePort(HOST) }, listen: { host: HOST, port: await freePort(HOST) } },
      partners: [{ domain: PARTNER, type: "federated", tls: "required", sasl: "optional", dialback: false, connectionLimit: 1 }],
      services: {
        edgeListener: await http(),
        dialbackAuthority: await http(),
        policy: await http(),
        sipTranslator: await http(),
        dnsRegistrar: await http(),
      },
    };
    const gateway = await startGateway(scope, { config, replicas: { "edge-listener": 2 }, env: { LOG_LEVEL: "debug" } });
    edges = gateway.services.filter((s) => s.name === "edge-listener").sort((a, b) => a.replica - b.replica);
    assert.equal(edges.length, 2, "two edge replicas run");
  });
  after(() => scope.close());

  /** partner.test's members of the partner's set in Redis ("{replica}|{stream id}"), waited for (bounded). */
  async function waitForMembers(check: (members: string[]) => boolean, what: string): Promise<string[]> {
    let members: string[] = [];
    for (let i = 0; i < 100; i++) {
      members = await redis.zrange(PARTNER_SET, 0, -1);
      if (check(members)) return members;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.fail(`timed out waiting for ${what}; members: ${JSON.stringify(members)}`);
  }

  async function openStream(replica: number): Promise<RawS2SClient> {
    const client = await RawS2SClient.connect(HOST, edgePort + replica);
    scope.defer(`stream to replica ${replica}`, () => client.destroy());
    return client;
  }

  async function streamErrorsOf(edge: RunningService, condition: string): Promise<number> {
    const text = await (await fetch(`${edge.httpUrl}/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith("passerelle_edge_stream_errors_total{") && l.includes(`condition="${condition}"`));
    return line === undefined ? 0 : Number(line.split(" ").at(-1));
  }

  it("a second stream from a partner whose limit is 1 is refused by the OTHER replica; after the first closes, a new one is accepted", async () => {
    const first = await openStream(0);
    await first.authenticate({ from: PARTNER, to: GATEWAY, identity, timeoutMs: WAIT_MS });
    await waitForMembers((m) => m.length === 1 && /^edge-listener-0-\d+\|/.test(m[0] ?? ""), "replica 0 to count the first stream");

    const refusedBefore = await streamErrorsOf(edges[1]!, "resource-constraint");
    const second = await openStream(1);
    // SASL EXTERNAL succeeds; the limit is checked as the stream is authenticated, before anything
    // more is read, and the error follows <success/> on the same stream (no restart is read).
    await second.startTls({ from: PARTNER, to: GATEWAY, identity, timeoutMs: WAIT_MS });
    second.send(`<auth xmlns='${NS.sasl}' mechanism='EXTERNAL'>${Buffer.from(PARTNER).toString("base64")}</auth>`);
    await second.nextElement((e) => e.is("success", NS.sasl), WAIT_MS, "<success/>");
    const error = await second.streamError(WAIT_MS);
    assert.equal(error.condition, "resource-constraint");
    assert.match(error.text ?? "", /partner connection limit \(1 inbound streams from partner\.test across the gateway\) is reached/);
    await second.waitClosed(WAIT_MS);
    assert.equal(await streamErrorsOf(edges[1]!, "resource-constraint"), refusedBefore + 1, "replica 1 counted the refusal by its condition");
    assert.ok(!first.closed, "the first stream is still open");
    assert.equal((await redis.zrange(PARTNER_SET, 0, -1)).length, 1, "the refused stream does not count");

    // The first stream ends (RFC 6120 §4.4): its slot is given back.
    first.send("</stream:stream>");
    await first.waitClosed(WAIT_MS);
    await waitForMembers((m) => m.length === 0, "the first stream's slot to be released");

    const third = await openStream(1);
    await third.authenticate({ from: PARTNER, to: GATEWAY, identity, timeoutMs: WAIT_MS });
    const members = await waitForMembers((m) => m.length === 1, "replica 1 to count the new stream");
    assert.match(members[0] ?? "", /^edge-listener-1-\d+\|/, "counted on replica 1");
    assert.ok(!third.closed, "the new stream is accepted and stays open");
    third.send("</stream:stream>");
    await third.waitClosed(WAIT_MS);
    await waitForMembers((m) => m.length === 0, "the new stream's slot to be released");
  });
});
