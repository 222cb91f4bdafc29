// Baseline throughput of real federation without Passerelle: N chat messages from
// alice@prosody.test to bob@ejabberd.test over real s2s (Prosody → ejabberd → Bob's client),
// shapers off on both. Later benchmarks compare against this figure measured in the same run
// (bench/inbound.ts runs it too, from bench/lib/baseline.ts).
//
//   node --import tsx bench/baseline.ts [--messages 20000] [--mode certificate|dialback-tls|dialback-plain]
import { parseArgs } from "node:util";
import { createScope, sweepStaleNetns } from "@passerelle/testkit";
import type { S2sMode } from "@passerelle/testkit";
import { formatBaseline, runBaseline } from "./lib/baseline.ts";

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

const scope = createScope("bench-baseline");

try {
  sweepStaleNetns();
  process.stdout.write(formatBaseline(await runBaseline(scope, { messages, mode, warmup })));
} finally {
  await scope.close();
}
