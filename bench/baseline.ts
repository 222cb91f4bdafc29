// Baseline throughput of real federation without Passerelle: N chat messages from
// alice@prosody.test to bob@ejabberd.test over real s2s (Prosody → ejabberd → Bob's client),
// shapers off on both. Later benchmarks compare against this figure measured in the same run.
//
//   node --import tsx bench/baseline.ts [--messages 20000] [--mode certificate|dialback-tls|dialback-plain]
import { parseArgs } from "node:util";
import { connectXmppClient, cpuSeconds, createScope, startFederationPair, sweepStaleNetns } from "@passerelle/testkit";
import type { S2sMode } from "@passerelle/testkit";

const { values } = parseArgs({
  options: {
    messages: { type: "string", default: "20000" },
    mode: { type: "string", default: "certificate" },
    warmup: { type: "string", default: "200" },
  },
});
const messages = Number(values.messages);
const warmup = Number(values.warmup);
const mode = values.mode as S2sMode;
if (!Number.isInteger(messages) || messages <= 0) throw new Error(`--messages must be a positive integer, got ${values.messages}`);
if (!["certificate", "dialback-tls", "dialback-plain"].includes(mode)) throw new Error(`unknown --mode ${mode}`);

const alice = { username: "alice", password: "alice-secret" };
const bob = { username: "bob", password: "bob-secret" };
const scope = createScope("bench-baseline");

try {
  sweepStaleNetns();
  const pair = await startFederationPair(scope, { mode, prosodyUsers: [alice], ejabberdUsers: [bob], quiet: true });
  const tls = mode === "dialback-tls" ? { insecureTls: true } : { caFile: pair.ca.certFile };
  const [sender, receiver] = await Promise.all([
    connectXmppClient(scope, { netns: pair.netns, server: pair.prosody, ...alice, ...tls, forwardStanzas: false }),
    connectXmppClient(scope, { netns: pair.netns, server: pair.ejabberd, ...bob, ...tls, forwardStanzas: false }),
  ]);

  // Warm-up: opens the s2s stream (DNS, TLS, authentication) outside the measurement.
  await sender.send("bob@ejabberd.test", "warm-up", { count: warmup, timeoutMs: 60_000 });
  await receiver.waitForCount(warmup, 60_000);

  const prosodyPid = pair.prosody.process.pid;
  const beamPid = pair.ejabberd.beamPid();
  if (beamPid === undefined) throw new Error("ejabberd's beam.smp process not found");
  const cpuBefore = { prosody: cpuSeconds(prosodyPid) ?? 0, ejabberd: cpuSeconds(beamPid) ?? 0 };
  const started = Date.now();
  const timeoutMs = Math.max(60_000, messages * 5);
  const receiving = receiver.waitForCount(warmup + messages, timeoutMs);
  await sender.send("bob@ejabberd.test", "benchmark message", { count: messages, timeoutMs });
  const sentAt = Date.now();
  const counted = await receiving;
  const elapsedMs = counted.lastAt - started;
  const cpuAfter = { prosody: cpuSeconds(prosodyPid) ?? 0, ejabberd: cpuSeconds(beamPid) ?? 0 };

  const perThousand = (seconds: number): string => ((seconds * 1000) / messages).toFixed(3);
  const micros = (seconds: number): string => ((seconds * 1e6) / messages).toFixed(1);
  const prosodyCpu = cpuAfter.prosody - cpuBefore.prosody;
  const ejabberdCpu = cpuAfter.ejabberd - cpuBefore.ejabberd;
  process.stdout.write(
    [
      `baseline: ${messages} messages alice@prosody.test → bob@ejabberd.test (s2s ${mode}, shapers off)`,
      `  sent in ${sentAt - started} ms, last received after ${elapsedMs} ms`,
      `  throughput: ${((messages * 1000) / elapsedMs).toFixed(0)} messages/s`,
      `  prosody  (pid ${prosodyPid}): ${prosodyCpu.toFixed(2)} s CPU = ${perThousand(prosodyCpu)} s per 1000 messages (${micros(prosodyCpu)} µs/msg, c2s in + s2s out)`,
      `  ejabberd (pid ${beamPid}): ${ejabberdCpu.toFixed(2)} s CPU = ${perThousand(ejabberdCpu)} s per 1000 messages (${micros(ejabberdCpu)} µs/msg, s2s in + c2s out)`,
      "",
    ].join("\n"),
  );
} finally {
  await scope.close();
}
