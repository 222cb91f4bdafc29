// Runs inside the benchmark's network namespace (started by bench/inbound.ts through testkit's
// spawnProcess): one @xmpp/client c2s connection that sends `count` chat messages at `rate`
// per second, each body `<prefix>-<n>-<epoch ms with µs>` taken just before the write, then prints
// `RESULT {json}` and exits. Settings come as JSON in PASSERELLE_BENCH_SENDER.
import { performance } from "node:perf_hooks";

interface Settings {
  readonly service: string;
  readonly domain: string;
  readonly username: string;
  readonly password: string;
  readonly to: string;
  /** Body prefix, e.g. `latency`. */
  readonly prefix: string;
  readonly count: number;
  readonly rate: number;
  readonly timeoutMs: number;
}

interface Element {
  readonly name: string;
}
interface Client {
  on(event: "online", listener: () => void): void;
  on(event: "error", listener: (error?: Error) => void): void;
  start(): Promise<unknown>;
  stop(): Promise<unknown>;
  send(...elements: Element[]): Promise<void>;
}
interface XmppModule {
  client(options: Record<string, unknown>): Client;
  xml(name: string, attrs?: Record<string, string>, ...children: (Element | string)[]): Element;
}

const settings = JSON.parse(process.env["PASSERELLE_BENCH_SENDER"] ?? "{}") as Settings;
const specifier = "@xmpp/client";
const { client, xml } = (await import(specifier)) as XmppModule;
const now = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const watchdog = setTimeout(() => {
  process.stdout.write(`FAILED timeout after ${settings.timeoutMs} ms\n`);
  process.exit(2);
}, settings.timeoutMs);

const xmpp = client({ service: settings.service, domain: settings.domain, username: settings.username, password: settings.password, resource: `paced-${process.pid}` });
xmpp.on("error", (error) => process.stdout.write(`error: ${error?.message ?? "unknown"}\n`));
const online = new Promise<void>((resolve) => xmpp.on("online", () => resolve()));
await xmpp.start();
await online;

const intervalMs = 1000 / settings.rate;
const started = now();
let sent = 0;
let maxLagMs = 0;
while (sent < settings.count) {
  const due = started + sent * intervalMs;
  const t = now();
  if (t < due) {
    await sleep(Math.max(0, Math.floor(due - t)));
    continue;
  }
  maxLagMs = Math.max(maxLagMs, t - due);
  // Everything due now goes out (a timer tick is ≥ 1 ms; at 1,000/s that is about one message).
  const sendAt = now();
  await xmpp.send(xml("message", { to: settings.to, type: "chat", id: `p${sent + 1}` }, xml("body", {}, `${settings.prefix}-${sent + 1}-${sendAt.toFixed(3)}`)));
  sent++;
}
const ended = now();
process.stdout.write(`RESULT ${JSON.stringify({ sent, startedAt: started, endedAt: ended, achievedRate: (sent * 1000) / (ended - started), maxLagMs })}\n`);
// Leave the stream open a moment so Prosody flushes the last stanzas before the session ends.
await sleep(500);
clearTimeout(watchdog);
await xmpp.stop().catch(() => undefined);
process.exit(0);
