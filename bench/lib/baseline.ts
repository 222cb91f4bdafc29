// The Prosody → ejabberd → client baseline, shared by bench/baseline.ts and bench/inbound.ts:
// N chat messages from alice@prosody.test to bob@ejabberd.test over real s2s, shapers off,
// timed from the first send to the last message Bob's client receives.
import { connectXmppClient, cpuSeconds, startFederationPair, type S2sMode, type Scope } from "@passerelle/testkit";

export interface BaselineOptions {
  readonly messages: number;
  readonly mode: S2sMode;
  /** Messages sent before measuring (opens the s2s stream: DNS, TLS, authentication). */
  readonly warmup: number;
}

export interface BaselineResult {
  readonly messages: number;
  readonly mode: S2sMode;
  readonly sentMs: number;
  readonly elapsedMs: number;
  readonly throughput: number;
  readonly prosody: { readonly pid: number; readonly cpuSeconds: number };
  readonly ejabberd: { readonly pid: number; readonly cpuSeconds: number };
}

export async function runBaseline(scope: Scope, options: BaselineOptions): Promise<BaselineResult> {
  const { messages, mode, warmup } = options;
  const alice = { username: "alice", password: "alice-secret" };
  const bob = { username: "bob", password: "bob-secret" };
  const pair = await startFederationPair(scope, { mode, prosodyUsers: [alice], ejabberdUsers: [bob], quiet: true });
  const tls = mode === "dialback-tls" ? { insecureTls: true } : { caFile: pair.ca.certFile };
  const [sender, receiver] = await Promise.all([
    connectXmppClient(scope, { netns: pair.netns, server: pair.prosody, ...alice, ...tls, forwardStanzas: false }),
    connectXmppClient(scope, { netns: pair.netns, server: pair.ejabberd, ...bob, ...tls, forwardStanzas: false }),
  ]);

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
  return {
    messages,
    mode,
    sentMs: sentAt - started,
    elapsedMs,
    throughput: (messages * 1000) / elapsedMs,
    prosody: { pid: prosodyPid, cpuSeconds: cpuAfter.prosody - cpuBefore.prosody },
    ejabberd: { pid: beamPid, cpuSeconds: cpuAfter.ejabberd - cpuBefore.ejabberd },
  };
}

export function formatBaseline(r: BaselineResult): string {
  const perThousand = (seconds: number): string => ((seconds * 1000) / r.messages).toFixed(3);
  const micros = (seconds: number): string => ((seconds * 1e6) / r.messages).toFixed(1);
  return [
    `baseline: ${r.messages} messages alice@prosody.test → bob@ejabberd.test (s2s ${r.mode}, shapers off)`,
    `  sent in ${r.sentMs} ms, last received after ${r.elapsedMs} ms`,
    `  throughput: ${r.throughput.toFixed(0)} messages/s`,
    `  prosody  (pid ${r.prosody.pid}): ${r.prosody.cpuSeconds.toFixed(2)} s CPU = ${perThousand(r.prosody.cpuSeconds)} s per 1000 messages (${micros(r.prosody.cpuSeconds)} µs/msg, c2s in + s2s out)`,
    `  ejabberd (pid ${r.ejabberd.pid}): ${r.ejabberd.cpuSeconds.toFixed(2)} s CPU = ${perThousand(r.ejabberd.cpuSeconds)} s per 1000 messages (${micros(r.ejabberd.cpuSeconds)} µs/msg, s2s in + c2s out)`,
    "",
  ].join("\n");
}
