// CPU time of the processes a benchmark watches, from /proc (utime + stime).
import { childrenOf, cpuSeconds } from "@passerelle/testkit";

export interface Watched {
  readonly name: string;
  readonly pid: number;
  /** Sum over the process and its descendants (Kamailio's forked workers). */
  readonly tree?: boolean;
  /** Counted in "the gateway's total" (our services + NATS + Redis). */
  readonly ours: boolean;
}

export function processCpu(w: Watched): number {
  if (w.tree !== true) return cpuSeconds(w.pid) ?? 0;
  let total = 0;
  const queue = [w.pid];
  for (let seen = 0; queue.length > 0 && seen < 200; seen++) {
    const pid = queue.shift();
    if (pid === undefined) break;
    total += cpuSeconds(pid) ?? 0;
    queue.push(...childrenOf(pid));
  }
  return total;
}

export function snapshot(watched: readonly Watched[]): Map<string, number> {
  return new Map(watched.map((w) => [w.name, processCpu(w)]));
}
