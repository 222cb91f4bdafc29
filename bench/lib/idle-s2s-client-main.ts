// Child process of bench/idle-connections.ts, run inside the peers' network namespace:
// opens N idle authenticated s2s connections to one server and holds them.
//   node --import tsx bench/lib/idle-s2s-client-main.ts '<json IdleClientJob>'
// Prints one line `OPENED {json}` when done; then, for each line `report` on stdin, one line
// `REPORT {json}` (how many are still open); exits when stdin closes.
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { openMany } from "./idle-s2s-client.ts";

export interface IdleClientJob {
  readonly host: string;
  readonly port: number;
  readonly to: string;
  /** `from` of connection i: the template with `{i}` replaced (or the same domain for all). */
  readonly fromTemplate: string;
  readonly sources: readonly string[];
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
  readonly count: number;
  readonly concurrency: number;
}

const arg = process.argv[2];
if (arg === undefined) throw new Error("usage: idle-s2s-client-main.ts '<json job>'");
const job = JSON.parse(arg) as IdleClientJob;
const started = Date.now();
const cpuBefore = process.cpuUsage();
const { sockets, failures } = await openMany(
  {
    host: job.host,
    port: job.port,
    to: job.to,
    from: (i) => job.fromTemplate.replace("{i}", String(i)),
    sources: job.sources,
    identity: { cert: readFileSync(job.certFile), key: readFileSync(job.keyFile), ca: readFileSync(job.caFile) },
  },
  job.count,
  job.concurrency,
  (line) => process.stderr.write(`${line}\n`),
);
const cpu = process.cpuUsage(cpuBefore);
let dropped = 0;
for (const s of sockets) s.once("close", () => dropped++);
const firstFailures = [...new Set(failures.map((f) => f.slice(0, 400)))].slice(0, 3);
process.stdout.write(
  `OPENED ${JSON.stringify({ open: sockets.length, failed: failures.length, firstFailures, seconds: (Date.now() - started) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6 })}\n`,
);
const lines = createInterface({ input: process.stdin });
lines.on("line", (line) => {
  if (line.trim() === "report") process.stdout.write(`REPORT ${JSON.stringify({ open: sockets.length - dropped, dropped, rss: process.memoryUsage().rss })}\n`);
});
lines.on("close", () => {
  for (const s of sockets) s.destroy();
  process.exit(0);
});
