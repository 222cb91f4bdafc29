// What bench/inbound.ts and bench/outbound.ts share: CPU per process of a measured phase, and the
// run of "ours" then the Prosody → ejabberd baseline (same N, same run) with the two ratios.
import { createScope, sweepStaleNetns, type Scope } from "@passerelle/testkit";
import { formatBaseline, runBaseline, type BaselineResult } from "./baseline.ts";
import type { Watched } from "./process-cpu.ts";

export type Out = (line?: string) => void;

export interface ProcessCpu {
  readonly name: string;
  readonly pid: number;
  readonly seconds: number;
  /** Ours (the services, NATS, Redis) or a peer's. */
  readonly ours: boolean;
}

export interface OursResult {
  readonly received: number;
  readonly elapsedMs: number;
  readonly throughput: number;
  readonly cpu: readonly ProcessCpu[];
}

/** Prints each process's CPU for `n` messages and our total; returns the per-process figures. */
export function reportCpu(out: Out, watched: readonly Watched[], before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>, n: number): ProcessCpu[] {
  const cpu = watched.map((w) => ({ name: w.name, pid: w.pid, seconds: (after.get(w.name) ?? 0) - (before.get(w.name) ?? 0), ours: w.ours }));
  for (const c of cpu) {
    out(`  ${c.ours ? "" : "(peer) "}${c.name.padEnd(24)} pid ${String(c.pid).padEnd(7)} ${c.seconds.toFixed(2).padStart(6)} s CPU = ${((c.seconds * 1000) / n).toFixed(3)} s per 1000 msgs (${((c.seconds * 1e6) / n).toFixed(1)} µs/msg)`);
  }
  const total = ourSeconds(cpu);
  out(`  gateway total (5 services + NATS + Redis): ${total.toFixed(2)} s = ${((total * 1e6) / n).toFixed(1)} µs per message`);
  return cpu;
}

function ourSeconds(cpu: readonly ProcessCpu[]): number {
  return cpu.filter((c) => c.ours).reduce((sum, c) => sum + c.seconds, 0);
}

export interface ComparisonOptions {
  /** Scope name of our run (its work directory under .e2e-work). */
  readonly name: string;
  readonly messages: number;
  readonly warmup: number;
  readonly skipBaseline: boolean;
  readonly out: Out;
  readonly runOurs: (scope: Scope) => Promise<OursResult>;
}

/** Ours, then the baseline in a fresh namespace, then ours / baseline. Scopes are closed on failure too. */
export async function runComparison(o: ComparisonOptions): Promise<void> {
  sweepStaleNetns();
  let ours: OursResult;
  const oursScope = createScope(o.name);
  try {
    ours = await o.runOurs(oursScope);
  } finally {
    await oursScope.close();
  }
  if (o.skipBaseline) return;
  let baseline: BaselineResult;
  const scope = createScope("bench-baseline");
  try {
    baseline = await runBaseline(scope, { messages: o.messages, mode: "certificate", warmup: o.warmup });
    o.out(formatBaseline(baseline).trimEnd());
  } finally {
    await scope.close();
  }
  o.out(`ours / baseline throughput: ${(ours.throughput / baseline.throughput).toFixed(3)} (${ours.throughput.toFixed(0)} vs ${baseline.throughput.toFixed(0)} msg/s)`);
  o.out(
    `CPU per message: ours ${((ourSeconds(ours.cpu) * 1e6) / Math.max(1, ours.received)).toFixed(1)} µs (5 services + NATS + Redis) vs ejabberd ${((baseline.ejabberd.cpuSeconds * 1e6) / baseline.messages).toFixed(1)} µs, Prosody ${((baseline.prosody.cpuSeconds * 1e6) / baseline.messages).toFixed(1)} µs`,
  );
}
