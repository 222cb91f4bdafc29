// Inbound throughput, latency and CPU of the whole gateway, against real peers, with the
// Prosody → ejabberd baseline measured in the same run:
//
//   alice@prosody.test (Prosody, s2s certificate mode: STARTTLS + SASL EXTERNAL to the gateway)
//     → edge-listener → NATS JetStream → policy → sip-translator (the 5 services as processes)
//     → Kamailio (UDP) → sipp UAS registered as juliet@gateway.test
//
// 1. throughput: N messages sent as fast as Alice's client can, timed from the first send to
//    the last MESSAGE recorded in sipp's -trace_msg (distinct bodies counted, so a SIP
//    retransmission is not counted twice);
// 2. latency at a paced rate (--rate) and at a low one (--low-rate): each body carries its send time, sipp's trace gives the receipt;
// 3. CPU seconds per 1,000 messages of each process during phase 1 (/proc utime + stime);
// 4. the baseline (bench/lib/baseline.ts) with the same N, and the ratio.
//
//   node --import tsx bench/inbound.ts [--messages 20000] [--latency-messages 5000] [--rate 1000]
//                                      [--low-rate 100] [--low-messages 1000]
//                                      [--skip-baseline] [--cpu-prof]
// A benchmark, not a test: it prints figures and asserts nothing on timing.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  connectXmppClient,
  sleep,
  spawnProcess,
  startSipUas,
  type EjabberdServer,
  type Netns,
  type ProsodyServer,
  type Scope,
} from "@passerelle/testkit";
import { GATEWAY_DOMAIN, SIP_AGENTS_ADDRESS, SIP_PROXY_ADDRESS, startScene } from "../e2e/lib/gateway-scenario.ts";
import { reportCpu, runComparison, type OursResult } from "./lib/ours-vs-baseline.ts";
import { snapshot, type Watched } from "./lib/process-cpu.ts";
import { SippTraceReader, type ReceivedMessage } from "./lib/sipp-trace.ts";

const { values } = parseArgs({
  options: {
    messages: { type: "string", default: "20000" },
    "latency-messages": { type: "string", default: "5000" },
    rate: { type: "string", default: "1000" },
    "low-rate": { type: "string", default: "100" },
    "low-messages": { type: "string", default: "1000" },
    warmup: { type: "string", default: "200" },
    "skip-baseline": { type: "boolean", default: false },
    "cpu-prof": { type: "boolean", default: false },
  },
});
const positive = (name: string, raw: string | undefined): number => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, got ${raw}`);
  return n;
};
const messages = positive("messages", values.messages);
const latencyMessages = positive("latency-messages", values["latency-messages"]);
const rate = positive("rate", values.rate);
const lowRate = positive("low-rate", values["low-rate"]);
const lowMessages = positive("low-messages", values["low-messages"]);
const warmup = positive("warmup", values.warmup);

const alice = { username: "alice", password: "alice-pw" };
const juliet = `juliet@${GATEWAY_DOMAIN}`;
const out = (line = ""): void => {
  process.stdout.write(`${line}\n`);
};

/** Polls the trace until `wanted` distinct bodies matching `prefix` arrived (bounded). */
async function waitForBodies(reader: SippTraceReader, prefix: string, wanted: number, timeoutMs: number): Promise<Map<string, ReceivedMessage>> {
  const deadline = Date.now() + timeoutMs;
  let seen = new Map<string, ReceivedMessage>();
  for (;;) {
    seen = new Map();
    for (const m of reader.poll()) if (m.body.startsWith(prefix) && !seen.has(m.body)) seen.set(m.body, m);
    if (seen.size >= wanted || Date.now() > deadline) return seen;
    await sleep(100);
  }
}

const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;

async function runOurs(scope: Scope): Promise<OursResult> {
  const profileDir = scope.dir("cpu-profiles");
  const scene = await startScene(
    scope,
    [{ kind: "prosody", domain: "prosody.test", address: "127.0.0.2", mode: "certificate", users: [alice], partner: { type: "federated", tls: "required", sasl: "optional", dialback: true } }],
    {},
    { gatewayLogLevel: "warn", peerLogLevel: "warn", ...(values["cpu-prof"] ? { gatewayEnv: { NODE_OPTIONS: `--import tsx --import ${join(import.meta.dirname, "lib", "cpu-profile-preload.ts")}`, PASSERELLE_CPU_PROF_DIR: profileDir } } : {}) },
  );
  const ua = await startSipUas(scope, {
    netns: scene.netns,
    address: SIP_AGENTS_ADDRESS,
    port: 5080,
    user: "juliet",
    proxy: { address: SIP_PROXY_ADDRESS, port: scene.kamailio.port, domain: GATEWAY_DOMAIN },
  });
  // testkit's startSipUas writes its -trace_msg here (sipp.ts: `${name}.trace` in the work dir).
  const traceFile = join(scope.workDir, "sipp-uas-juliet.trace");
  const reader = new SippTraceReader(traceFile);
  const prosody = scene.servers.get("prosody.test");
  if (prosody === undefined) throw new Error("no Prosody in the scene");
  const sender = await connectXmppClient(scope, { netns: scene.netns, server: prosody, ...alice, caFile: scene.ca.certFile, insecureTls: true, forwardStanzas: false });

  // Warm-up: opens the s2s stream (DNS, STARTTLS, SASL EXTERNAL), JetStream, SIP paths.
  await sender.send(juliet, "warm-up", { count: warmup, timeoutMs: 60_000 });
  const warm = await waitForBodies(reader, "warm-up #", warmup, 60_000);
  if (warm.size < warmup) throw new Error(`warm-up: only ${warm.size} of ${warmup} reached the UAS (trace ${traceFile}, exists: ${existsSync(traceFile)})`);

  const watched: Watched[] = [
    ...scene.gateway.services.map((s) => ({ name: s.name, pid: s.process.pid, ours: true })),
    { name: "nats-server", pid: scene.nats.process.pid, ours: true },
    { name: "redis-server", pid: scene.redis.process.pid, ours: true },
    { name: "prosody (sender side)", pid: prosody.process.pid, ours: false },
    { name: "kamailio (all workers)", pid: scene.kamailio.process.pid, tree: true, ours: false },
    { name: "sipp UAS", pid: ua.process.pid, ours: false },
  ];

  // 1. Throughput.
  const before = snapshot(watched);
  const started = Date.now();
  const timeoutMs = Math.min(180_000, Math.max(60_000, messages * 5));
  await sender.send(juliet, "benchmark message", { count: messages, timeoutMs });
  const sentMs = Date.now() - started;
  const arrived = await waitForBodies(reader, "benchmark message #", messages, timeoutMs);
  const after = snapshot(watched);
  const lastAt = Math.max(...[...arrived.values()].map((m) => m.at));
  const elapsedMs = lastAt - started;
  const allMessages = reader.poll().filter((m) => m.body.startsWith("benchmark message #")).length;
  out(`ours: ${messages} messages alice@prosody.test → gateway → Kamailio → sipp (juliet), s2s certificate (SASL EXTERNAL)`);
  out(`  sent in ${sentMs} ms, ${arrived.size} distinct MESSAGEs at the UAS (${allMessages - arrived.size} duplicates), last after ${elapsedMs.toFixed(0)} ms`);
  out(`  throughput: ${((arrived.size * 1000) / elapsedMs).toFixed(0)} messages/s`);
  const n = arrived.size;
  const cpu = reportCpu(out, watched, before, after, n);

  // 2. Latency at paced rates (the asked rate, then a low one for the unloaded figure).
  for (const [phase, count, perSecond] of [
    ["paced", latencyMessages, rate],
    ["slow", lowMessages, lowRate],
  ] as const) {
    await pacedLatency(scope, scene.netns, prosody, reader, phase, count, perSecond);
  }
  return { received: n, elapsedMs, throughput: (n * 1000) / elapsedMs, cpu };
}

/** Paced sends from a second c2s session of Alice's; each body carries its send time. */
async function pacedLatency(scope: Scope, netns: Netns, prosody: ProsodyServer | EjabberdServer, reader: SippTraceReader, phase: string, count: number, perSecond: number): Promise<void> {
  const senderProcess = spawnProcess(scope, {
    name: `paced-sender-${phase}`,
    command: process.execPath,
    args: ["--import", "tsx", join(import.meta.dirname, "lib", "paced-sender.ts")],
    netns,
    env: {
      ...process.env,
      NODE_TLS_REJECT_UNAUTHORIZED: "0",
      PASSERELLE_BENCH_SENDER: JSON.stringify({
        service: `xmpp://${prosody.address}:${prosody.c2sPort}`,
        domain: prosody.domain,
        ...alice,
        to: juliet,
        prefix: phase,
        count,
        rate: perSecond,
        timeoutMs: Math.ceil((count / perSecond) * 1000) + 60_000,
      }),
    },
  });
  const pacedDeadline = Math.ceil((count / perSecond) * 1000) + 70_000;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([senderProcess.exited, new Promise((resolve) => (timer = setTimeout(resolve, pacedDeadline)))]);
  clearTimeout(timer);
  const resultLine = readFileSync(senderProcess.logFile, "utf8").split("\n").find((l) => l.startsWith("RESULT "));
  if (resultLine === undefined) throw new Error(`paced sender failed:\n${senderProcess.logTail()}`);
  const paced = JSON.parse(resultLine.slice("RESULT ".length)) as { sent: number; achievedRate: number; maxLagMs: number };
  const latencyArrived = await waitForBodies(reader, `${phase}-`, paced.sent, 60_000);
  const latencies = [...latencyArrived.values()]
    .map((m) => m.at - Number(m.body.split("-").at(-1)))
    .filter((v) => Number.isFinite(v))
    .sort((a, b) => a - b);
  out(`latency: ${paced.sent} messages paced at ${perSecond}/s (achieved ${paced.achievedRate.toFixed(0)}/s, worst sender lag ${paced.maxLagMs.toFixed(1)} ms), ${latencyArrived.size} arrived`);
  out(
    `  client send → UAS receipt: p50 ${percentile(latencies, 50).toFixed(2)} ms, p90 ${percentile(latencies, 90).toFixed(2)} ms, p99 ${percentile(latencies, 99).toFixed(2)} ms, max ${(latencies.at(-1) ?? NaN).toFixed(2)} ms`,
  );
}

await runComparison({ name: "bench-inbound", messages, warmup, skipBaseline: values["skip-baseline"], out, runOurs });
