// Outbound throughput and CPU of the whole gateway, against real peers, with the
// Prosody → ejabberd baseline measured in the same run:
//
//   sipp UAC (internal users romeo0..romeoK-1@gateway.test) → Kamailio (UDP) → sip-translator
//     → policy (XMPP access, partner) → edge-listener → s2s (STARTTLS + SASL EXTERNAL)
//     → Prosody → alice@prosody.test's c2s client, which counts the messages
//
// 1. throughput: N MESSAGEs (at most --concurrency outstanding), timed from the start of the load
//    to the last message Alice's client receives; sipp's exit code says whether every MESSAGE got 200;
// 2. CPU seconds per 1,000 messages of each process during phase 1 (/proc utime + stime);
// 3. the baseline (bench/lib/baseline.ts) with the same N, and the ratio.
//
//   node --import tsx bench/outbound.ts [--messages 20000] [--senders 1] [--concurrency 64]
//                                       [--rate 100000] [--warmup 200] [--skip-baseline]
// A benchmark, not a test: it prints figures and asserts nothing on timing.
import { parseArgs } from "node:util";
import { connectXmppClient, type Scope } from "@passerelle/testkit";
import { GATEWAY_DOMAIN, SIP_AGENTS_ADDRESS, SIP_PROXY_ADDRESS, startScene } from "../e2e/lib/gateway-scenario.ts";
import { reportCpu, runComparison, type OursResult } from "./lib/ours-vs-baseline.ts";
import { snapshot, type Watched } from "./lib/process-cpu.ts";
import { startSipLoad } from "./lib/sip-load.ts";

const { values } = parseArgs({
  options: {
    messages: { type: "string", default: "20000" },
    senders: { type: "string", default: "1" },
    concurrency: { type: "string", default: "64" },
    rate: { type: "string", default: "100000" },
    warmup: { type: "string", default: "200" },
    "skip-baseline": { type: "boolean", default: false },
  },
});
const positive = (name: string, raw: string | undefined): number => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, got ${raw}`);
  return n;
};
const messages = positive("messages", values.messages);
const senderCount = positive("senders", values.senders);
const concurrency = positive("concurrency", values.concurrency);
const rate = positive("rate", values.rate);
const warmup = positive("warmup", values.warmup);

const alice = { username: "alice", password: "alice-pw" };
const out = (line = ""): void => {
  process.stdout.write(`${line}\n`);
};

async function runOurs(scope: Scope): Promise<OursResult> {
  const scene = await startScene(
    scope,
    [{ kind: "prosody", domain: "prosody.test", address: "127.0.0.2", mode: "certificate", users: [alice], partner: { type: "federated", tls: "required", sasl: "optional", dialback: true } }],
    {},
    { gatewayLogLevel: "warn", peerLogLevel: "warn" },
  );
  const prosody = scene.servers.get("prosody.test");
  if (prosody === undefined) throw new Error("no Prosody in the scene");
  const receiver = await connectXmppClient(scope, { netns: scene.netns, server: prosody, ...alice, caFile: scene.ca.certFile, insecureTls: true, forwardStanzas: false });
  const senders = Array.from({ length: senderCount }, (_, i) => `romeo${i}`);
  let port = 5200;
  const load = (name: string, count: number, prefix: string) =>
    startSipLoad(scope, name, {
      netns: scene.netns,
      address: SIP_AGENTS_ADDRESS,
      port: port++,
      senderDomain: GATEWAY_DOMAIN,
      senders,
      to: "sip:alice@prosody.test",
      proxy: { address: SIP_PROXY_ADDRESS, port: scene.kamailio.port },
      count,
      concurrency,
      rate,
      prefix,
      timeoutMs: Math.min(600_000, Math.max(60_000, count * 10)),
    });

  // Warm-up: opens the s2s stream (DNS, STARTTLS, SASL EXTERNAL) and the SIP and NATS paths.
  const warm = load("sipp-load-warmup", warmup, "warm-up");
  const warmCode = await warm.done;
  await receiver.waitForCount(warmup, 60_000);
  if (warmCode !== 0) out(`  (warm-up: sipp exited with ${String(warmCode)}: some MESSAGEs did not get 200)`);

  const watched: Watched[] = [
    ...scene.gateway.services.map((s) => ({ name: s.name, pid: s.process.pid, ours: true })),
    { name: "nats-server", pid: scene.nats.process.pid, ours: true },
    { name: "redis-server", pid: scene.redis.process.pid, ours: true },
    { name: "prosody (receiver side)", pid: prosody.process.pid, ours: false },
    { name: "kamailio (all workers)", pid: scene.kamailio.process.pid, tree: true, ours: false },
  ];
  const before = snapshot(watched);
  const started = Date.now();
  const timeoutMs = Math.min(600_000, Math.max(60_000, messages * 10));
  const receiving = receiver.waitForCount(warmup + messages, timeoutMs);
  const run = load("sipp-load", messages, "benchmark message");
  const code = await run.done;
  const counted = await receiving.catch((err: unknown) => {
    out(`  not all messages arrived: ${(err as Error).message}`);
    return undefined;
  });
  const after = snapshot(watched);
  const received = (counted?.received ?? warmup) - warmup;
  const elapsedMs = (counted?.lastAt ?? Date.now()) - started;
  out(`ours: ${messages} MESSAGEs sipp (${senderCount} sender${senderCount === 1 ? "" : "s"}, ≤ ${concurrency} outstanding) → Kamailio → gateway → Prosody → alice's client, s2s certificate (SASL EXTERNAL)`);
  out(`  sipp exit code ${String(code)} (0: every MESSAGE answered 200), ${received} messages received, last after ${elapsedMs} ms`);
  out(`  throughput: ${((received * 1000) / elapsedMs).toFixed(0)} messages/s`);
  const n = Math.max(1, received);
  const cpu = reportCpu(out, watched, before, after, n);
  return { received, elapsedMs, throughput: (received * 1000) / elapsedMs, cpu };
}

await runComparison({ name: "bench-outbound", messages, warmup, skipBaseline: values["skip-baseline"], out, runOurs });
