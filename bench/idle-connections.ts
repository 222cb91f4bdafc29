// Memory per idle authenticated s2s connection at one edge-listener replica (the real process,
// started through packages/launcher with NATS and Redis), with TLS:
//
//   N connections from bench.test (a partner with TLS and SASL required, connection limit N):
//   TCP → header → STARTTLS → TLS (client certificate for bench.test) → header → SASL EXTERNAL
//   → header → features, then silence. The edge's VmRSS (/proc/<pid>/status) and V8 heap
//   (process.memoryUsage() through the inspector, after a forced full GC) are read before and
//   after; the growth divided by N is the figure. The bar (MISSION.md): ≤ 40 KiB per connection
//   with TLS, 10,000 per replica; Prosody 0.12.3 48 KiB TLS, ejabberd 23.01 98 KiB TLS.
//
//   node --experimental-websocket --import tsx bench/idle-connections.ts [--connections 10000]
//        [--concurrency 200] [--settle-seconds 15] [--heap-snapshot FILE (writes FILE.before, FILE.after)]
//        [--skip-peers] [--peer-connections 2000] [--peer-concurrency 50]
//
// Then, in the same run (unless --skip-peers), the same connections against a real Prosody 0.12
// and a real ejabberd 23.01 (bench/lib/idle-peers.ts): both in certificate mode in a testkit
// namespace, the client as a child process inside it; the figure is the growth of the Prosody
// process's and of ejabberd's beam.smp VmRSS divided by the connections held.
//
// The client (bench/lib/idle-s2s-client.ts) is deliberately lean (regular expressions over the
// server's bytes, no XML parser): it has to hold N TLS sockets itself. Connections come from several
// loopback source addresses (127.0.0.10–127.0.0.25) so ephemeral ports never run out. File
// descriptor limits of both processes are raised with prlimit (the peers inherit ours; ejabberd's VM
// through EjabberdOptions.openFilesLimit). A benchmark, not a test: it prints figures, asserts nothing.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { cpus, totalmem } from "node:os";
import { execFileSync } from "node:child_process";
import type { RawConfig } from "@passerelle/config";
import { createScope, createTestCa, freePort, sleep, startNats, startRedis } from "@passerelle/testkit";
import { startGateway } from "../packages/launcher/src/index.ts";
import { InspectorClient, type MemoryUsage } from "./lib/inspector.ts";
import { measurePeers } from "./lib/idle-peers.ts";
import { openMany, type ClientIdentity, type IdleTarget } from "./lib/idle-s2s-client.ts";

const { values } = parseArgs({
  options: {
    connections: { type: "string", default: "10000" },
    concurrency: { type: "string", default: "200" },
    // Longer than the edge's parser release delay (10 s after the last bytes of a stream).
    "settle-seconds": { type: "string", default: "15" },
    "heap-snapshot": { type: "string" },
    // Prosody 0.12 and ejabberd 23.01 measured the same way in the same run (bench/lib/idle-peers.ts).
    "skip-peers": { type: "boolean", default: false },
    "peer-connections": { type: "string", default: "2000" },
    // Handshakes in flight against each peer (at 200, ejabberd left some connections without a
    // stream header for 30 s on 2 shared cores).
    "peer-concurrency": { type: "string", default: "50" },
  },
});
const positive = (name: string, raw: string | undefined): number => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, got ${raw}`);
  return n;
};
const N = positive("connections", values.connections);
const CONCURRENCY = positive("concurrency", values.concurrency);
const SETTLE_MS = positive("settle-seconds", values["settle-seconds"]) * 1000;
const PEER_N = positive("peer-connections", values["peer-connections"]);
const PEER_CONCURRENCY = positive("peer-concurrency", values["peer-concurrency"]);
if (N > 10_000) throw new Error("--connections is at most 10000 (a partner's connection limit)");

const HOST = "127.0.0.1";
const GATEWAY = "gateway.test";
const PARTNER = "bench.test";
const WARMUP = "warmup.bench.test";
// The client domain(s) for the peers: `{i}` is the connection's index.
const PEER_FROM = "bench.test";
const PEER_FROM_CERT = "bench.test";
const SOURCES = Array.from({ length: 16 }, (_, i) => `127.0.0.${10 + i}`);
const out = (line = ""): void => {
  process.stdout.write(`${line}\n`);
};
const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;
const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

function vmRss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (m === null) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

/** Raises the soft descriptor limit to the hard one (we cannot raise the hard one here); returns it. */
function raiseFdLimit(pid: number): number {
  const hard = Number(execFileSync("prlimit", ["--pid", String(pid), "--nofile", "--output=HARD", "--noheadings"]).toString().trim());
  execFileSync("prlimit", ["--pid", String(pid), `--nofile=${hard}:${hard}`]);
  return hard;
}

async function authenticatedAtEdge(metricsUrl: string): Promise<number> {
  const text = await (await fetch(`${metricsUrl}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  const m = /^passerelle_edge_inbound_connections\{[^}]*state="authenticated"[^}]*\} (\S+)$/m.exec(text);
  return m === null ? 0 : Number(m[1]);
}

async function main(): Promise<void> {
  const scope = createScope("bench-idle-connections");
  try {
    const ownLimit = raiseFdLimit(process.pid);
    if (ownLimit < N + 100) throw new Error(`this process may open ${ownLimit} descriptors, fewer than ${N} connections need`);
    const ca = await createTestCa(scope.dir("pki"));
    const gatewayCert = await ca.issue({ domains: [GATEWAY], srvId: true });
    const partnerCert = await ca.issue({ domains: [PARTNER], srvId: true });
    const warmupCert = await ca.issue({ domains: [WARMUP], srvId: true });
    const identity: ClientIdentity = { cert: readFileSync(partnerCert.certFile), key: readFileSync(partnerCert.keyFile), ca: readFileSync(ca.certFile) };
    const [nats, redis] = await Promise.all([startNats(scope, { host: HOST }), startRedis(scope, { host: HOST })]);
    const edgePort = await freePort(HOST);
    const inspectPort = await freePort(HOST);
    const deadPort = await freePort(HOST);
    const http = async () => ({ http: { host: HOST, port: await freePort(HOST) } });
    const config: RawConfig = {
      domains: [{ xmpp: GATEWAY }],
      gateway: {
        edgeFqdn: GATEWAY,
        dialback: { secret: "idle-connections-bench-secret-0123" },
        limits: { connectionLimit: 20_000 },
        // Long enough that no connection is closed while the bench measures.
        timeouts: { streamEstablishment: 120, streamInactivity: 3600 },
      },
      edge: { listen: { host: HOST, port: edgePort }, tls: { certFile: gatewayCert.certFile, keyFile: gatewayCert.keyFile, caFile: ca.certFile } },
      nats: { url: nats.url },
      redis: { url: redis.url },
      dns: { server: `${HOST}:${deadPort}` },
      sip: { proxy: { host: HOST, port: await freePort(HOST) }, listen: { host: HOST, port: await freePort(HOST) } },
      partners: [
        { domain: PARTNER, type: "federated", tls: "required", sasl: "required", dialback: false, connectionLimit: 10_000 },
        { domain: WARMUP, type: "federated", tls: "required", sasl: "required", dialback: false, connectionLimit: 1_000 },
      ],
      services: {
        edgeListener: await http(),
        dialbackAuthority: await http(),
        policy: await http(),
        sipTranslator: await http(),
        dnsRegistrar: await http(),
      },
    };
    const useInspector = InspectorClient.available();
    const gateway = await startGateway(scope, {
      config,
      replicas: { "edge-listener": 1 },
      env: { LOG_LEVEL: "warn", ...(useInspector ? { NODE_OPTIONS: `--inspect=${HOST}:${inspectPort}` } : {}) },
    });
    const edge = gateway.services.find((s) => s.name === "edge-listener");
    if (edge === undefined) throw new Error("no edge-listener");
    const pid = edge.process.pid;
    const edgeLimit = raiseFdLimit(pid);
    if (edgeLimit < N + 100) throw new Error(`the edge may open ${edgeLimit} descriptors, fewer than ${N} connections need`);
    const inspector = useInspector ? await InspectorClient.connect(HOST, inspectPort) : undefined;
    if (inspector === undefined) out("(no WebSocket global: run with --experimental-websocket for V8 heap figures after a forced GC)");

    // Warm-up: code paths loaded, TLS context built, pools grown; then closed again.
    const edgeTarget: IdleTarget = { host: HOST, port: edgePort, to: GATEWAY, from: () => PARTNER, sources: SOURCES, identity };
    const warmIdentity: ClientIdentity = { cert: readFileSync(warmupCert.certFile), key: readFileSync(warmupCert.keyFile), ca: identity.ca };
    const warm = await openMany({ ...edgeTarget, from: () => WARMUP, identity: warmIdentity }, Math.min(200, N), CONCURRENCY);
    if (warm.failures.length > 0) throw new Error(`warm-up failed: ${warm.failures[0]}`);
    for (const s of warm.sockets) s.destroy();
    await sleep(3000);
    // The partner's limit (10,000) is counted across replicas in Redis; the warm-up comes from its
    // own partner domain so that its slots, if still counted, do not take the N's room.
    const slotKey = `passerelle:edge:limit:inbound:partner:${WARMUP}`;
    const leftover = Number(execFileSync("redis-cli", ["-u", redis.url, "ZCARD", slotKey]).toString().trim());
    if (leftover > 0) out(`(3 s after the warm-up's connections closed, ${leftover} of its partner slots are still counted in Redis)`);

    const measure = async (): Promise<{ rss: number; mem: MemoryUsage | undefined }> => {
      const mem = inspector === undefined ? undefined : await inspector.memoryAfterGc();
      await sleep(500);
      return { rss: vmRss(pid), mem };
    };
    const before = await measure();
    const snapshot = values["heap-snapshot"];
    if (snapshot !== undefined && inspector !== undefined) {
      await inspector.writeHeapSnapshot(`${snapshot}.before`);
      out(`heap snapshot before: ${snapshot}.before`);
    }
    const started = Date.now();
    const cpuBefore = process.cpuUsage();
    const { sockets, failures } = await openMany(edgeTarget, N, CONCURRENCY, out);
    const openSeconds = (Date.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    let dropped = 0;
    for (const s of sockets) s.once("close", () => dropped++);
    await sleep(SETTLE_MS);
    const atEdge = await authenticatedAtEdge(edge.httpUrl);
    const after = await measure();
    if (snapshot !== undefined && inspector !== undefined) {
      await inspector.writeHeapSnapshot(`${snapshot}.after`);
      out(`heap snapshot with the connections open: ${snapshot}.after`);
    }
    const open = sockets.length;
    const clientRss = process.memoryUsage().rss;

    out();
    out(`## idle authenticated s2s connections at one edge-listener replica (STARTTLS + SASL EXTERNAL)`);
    out(`machine: ${cpus().length} × ${cpus()[0]?.model ?? "?"}, ${mib(totalmem())} RAM, Node ${process.version}`);
    out(`opened ${open}/${N} in ${openSeconds.toFixed(1)} s (${(open / openSeconds).toFixed(0)} handshakes/s; client CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s), ${failures.length} failed${failures[0] === undefined ? "" : ` (first: ${failures[0]})`}`);
    out(`still open after ${SETTLE_MS / 1000} s: ${open - dropped} at the client, ${atEdge} authenticated at the edge`);
    const delta = after.rss - before.rss;
    out(`edge VmRSS: ${mib(before.rss)} → ${mib(after.rss)} = ${kib(delta / Math.max(open, 1))} per connection`);
    if (before.mem !== undefined && after.mem !== undefined) {
      const per = (k: keyof MemoryUsage): string => kib((after.mem![k] - before.mem![k]) / Math.max(open, 1));
      out(`edge V8 after full GC: heapUsed ${mib(before.mem.heapUsed)} → ${mib(after.mem.heapUsed)} = ${per("heapUsed")} per connection; external ${per("external")} (arrayBuffers ${per("arrayBuffers")}); heapTotal ${per("heapTotal")}`);
    }
    out(`client (this process) RSS: ${mib(clientRss)}`);
    out(`reference (MISSION.md): Prosody 0.12.3 48 KiB TLS, ejabberd 23.01 98 KiB TLS; the bar ≤ 40 KiB with TLS, 10,000 per replica`);

    for (const s of sockets) s.destroy();
    inspector?.close();
    await gateway.stop();

    if (values["skip-peers"] !== true) {
      out();
      out(`## the same connections against the real peers (${PEER_N} each, ${PEER_CONCURRENCY} handshakes in flight, client in their namespace)`);
      const peerCert = await ca.issue({ domains: [PEER_FROM_CERT], srvId: false, name: "idle-peer-client" });
      const figures = await measurePeers(scope, ca, {
        connections: PEER_N,
        concurrency: PEER_CONCURRENCY,
        settleMs: SETTLE_MS,
        fromTemplate: PEER_FROM,
        clientCert: peerCert,
        log: out,
      });
      for (const f of figures) {
        out(`${f.server}: opened ${f.opened}/${f.requested} in ${f.seconds.toFixed(1)} s, ${f.failed} failed${f.firstFailures.length === 0 ? "" : ` (${f.firstFailures.join(" | ")})`}; still open after ${SETTLE_MS / 1000} s: ${f.stillOpen}`);
        out(`${f.server} VmRSS: ${mib(f.rssBefore)} → ${mib(f.rssAfter)} = ${kib(f.perConnection)} per connection`);
      }
      out(`ours (above): ${kib(delta / Math.max(open, 1))} per connection at ${open}`);
    }
  } finally {
    await scope.close();
  }
}

await main();
