// The peers' side of bench/idle-connections.ts: the same idle authenticated TLS s2s connections
// (STARTTLS + client certificate + SASL EXTERNAL), held open against a real Prosody 0.12 and a
// real ejabberd 23.01 from packages/testkit, each in certificate mode and trusting the test CA.
// The peers live in a network namespace, so the client runs there too, as a child process
// (idle-s2s-client-main.ts); the growth of the Prosody process's VmRSS and of ejabberd's
// beam.smp VmRSS divided by the connections held is the figure.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createNetns, sleep, startEjabberd, startProsody } from "@passerelle/testkit";
import type { Netns, Scope, TestCa } from "@passerelle/testkit";
import type { IdleClientJob } from "./idle-s2s-client-main.ts";

const CLIENT_MAIN = join(fileURLToPath(new URL(".", import.meta.url)), "idle-s2s-client-main.ts");
const PROSODY_ADDRESS = "127.0.0.2";
const EJABBERD_ADDRESS = "127.0.0.6";
const SOURCES = Array.from({ length: 8 }, (_, i) => `127.0.0.${10 + i}`);

export interface PeerFigures {
  readonly server: string;
  readonly requested: number;
  readonly opened: number;
  readonly failed: number;
  readonly firstFailures: readonly string[];
  readonly stillOpen: number;
  readonly seconds: number;
  readonly rssBefore: number;
  readonly rssAfter: number;
  readonly perConnection: number;
}

export interface PeerBenchOptions {
  readonly connections: number;
  readonly concurrency: number;
  readonly settleMs: number;
  /** `from` of connection i: `{i}` is replaced by i (e.g. `c{i}.bench.test`), or one domain for all. */
  readonly fromTemplate: string;
  /** Client certificate covering every `from`, signed by `ca`. */
  readonly clientCert: { readonly certFile: string; readonly keyFile: string };
  readonly log: (line: string) => void;
}

function vmRss(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (m === null) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

/** The soft descriptor limit of a process (the peers inherit this process's raised one). */
function fdLimit(pid: number): number {
  const m = /^Max open files\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/limits`, "utf8"));
  if (m === null) throw new Error(`no descriptor limit for ${pid}`);
  return Number(m[1]);
}

/** The client child inside the namespace; `opened` resolves with its OPENED line. */
class ClientChild {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly waiting: Array<{ prefix: string; resolve: (json: unknown) => void }> = [];
  readonly exited: Promise<void>;

  constructor(netns: Netns, job: IdleClientJob) {
    const [command, args] = netns.wrap(process.execPath, ["--import", "tsx", CLIENT_MAIN, JSON.stringify(job)]);
    this.child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"], cwd: process.cwd() });
    this.child.stderr.on("data", (chunk: Buffer) => process.stderr.write(chunk));
    this.exited = new Promise((resolve) => this.child.once("exit", () => resolve()));
    createInterface({ input: this.child.stdout }).on("line", (line) => {
      const space = line.indexOf(" ");
      const prefix = line.slice(0, space);
      const index = this.waiting.findIndex((w) => w.prefix === prefix);
      if (index >= 0) {
        const [w] = this.waiting.splice(index, 1);
        w?.resolve(JSON.parse(line.slice(space + 1)));
      }
    });
  }

  next<T>(prefix: string, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`client child: no ${prefix} line in ${timeoutMs} ms`)), timeoutMs);
      void this.exited.then(() => reject(new Error(`client child exited before ${prefix}`)));
      this.waiting.push({
        prefix,
        resolve: (json) => {
          clearTimeout(timer);
          resolve(json as T);
        },
      });
    });
  }

  async report(): Promise<{ open: number; dropped: number; rss: number }> {
    const reply = this.next<{ open: number; dropped: number; rss: number }>("REPORT", 30_000);
    this.child.stdin.write("report\n");
    return reply;
  }

  /** Closes stdin (the child closes its sockets and exits); bounded, then killed. */
  async close(): Promise<void> {
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 20_000);
    await this.exited;
    clearTimeout(timer);
  }
}

interface Opened {
  open: number;
  failed: number;
  firstFailures: string[];
  seconds: number;
  cpuSeconds: number;
}

async function measureOne(
  netns: Netns,
  server: { name: string; pid: () => number; host: string; port: number; domain: string },
  ca: TestCa,
  options: PeerBenchOptions,
): Promise<PeerFigures> {
  const job = (count: number): IdleClientJob => ({
    host: server.host,
    port: server.port,
    to: server.domain,
    fromTemplate: options.fromTemplate,
    sources: SOURCES,
    certFile: options.clientCert.certFile,
    keyFile: options.clientCert.keyFile,
    caFile: ca.certFile,
    count,
    concurrency: options.concurrency,
  });
  // Warm-up: 200 connections opened and closed (code loaded, pools grown), as for our edge.
  const warm = new ClientChild(netns, job(Math.min(200, options.connections)));
  const warmOpened = await warm.next<Opened>("OPENED", 300_000);
  await warm.close();
  if (warmOpened.open === 0) throw new Error(`${server.name}: warm-up opened no connection: ${warmOpened.firstFailures.join(" | ")}`);
  await sleep(5000);
  const pid = server.pid();
  const rssBefore = vmRss(pid);
  const client = new ClientChild(netns, job(options.connections));
  try {
    const opened = await client.next<Opened>("OPENED", 900_000);
    await sleep(options.settleMs);
    const report = await client.report();
    const rssAfter = vmRss(pid);
    return {
      server: server.name,
      requested: options.connections,
      opened: opened.open,
      failed: opened.failed,
      firstFailures: opened.firstFailures,
      stillOpen: report.open,
      seconds: opened.seconds,
      rssBefore,
      rssAfter,
      perConnection: (rssAfter - rssBefore) / Math.max(report.open, 1),
    };
  } finally {
    await client.close();
  }
}

/** Starts Prosody and ejabberd in a fresh namespace and measures each in turn (the other idle). */
export async function measurePeers(scope: Scope, ca: TestCa, options: PeerBenchOptions): Promise<PeerFigures[]> {
  const netns = await createNetns(scope, { addresses: [PROSODY_ADDRESS, EJABBERD_ADDRESS, ...SOURCES], label: "idle" });
  const [prosodyCert, ejabberdCert] = await Promise.all([
    ca.issue({ domains: ["prosody.test"], srvId: true, name: "idle-prosody" }),
    ca.issue({ domains: ["ejabberd.test"], srvId: true, name: "idle-ejabberd" }),
  ]);
  const ejabberdStarting = startEjabberd(scope, {
    netns,
    domain: "ejabberd.test",
    address: EJABBERD_ADDRESS,
    mode: "certificate",
    certificate: ejabberdCert,
    caFile: ca.certFile,
    logLevel: "warning",
    openFilesLimit: fdLimit(process.pid),
  });
  const prosodyStarting = startProsody(scope, {
    netns,
    domain: "prosody.test",
    address: PROSODY_ADDRESS,
    mode: "certificate",
    certificate: prosodyCert,
    caFile: ca.certFile,
    logLevel: "warn",
  });
  const [ejabberd, prosody] = await Promise.all([ejabberdStarting, prosodyStarting]);
  const beam = (): number => {
    const pid = ejabberd.beamPid();
    if (pid === undefined) throw new Error("no beam.smp under ejabberdctl");
    return pid;
  };
  const prosodyPid = prosody.process.pid;
  const comm = readFileSync(`/proc/${prosodyPid}/comm`, "utf8").trim();
  options.log(`peers: Prosody pid ${prosodyPid} (${comm}, ${fdLimit(prosodyPid)} descriptors), ejabberd beam.smp pid ${beam()} (${fdLimit(beam())} descriptors)`);
  for (const pid of [prosodyPid, beam()]) {
    const limit = fdLimit(pid);
    if (limit < options.connections + 100) throw new Error(`pid ${pid} may open ${limit} descriptors, fewer than ${options.connections} connections need`);
  }
  const results: PeerFigures[] = [];
  results.push(await measureOne(netns, { name: "Prosody", pid: () => prosodyPid, host: PROSODY_ADDRESS, port: prosody.s2sPort, domain: "prosody.test" }, ca, options));
  results.push(await measureOne(netns, { name: "ejabberd (beam.smp)", pid: beam, host: EJABBERD_ADDRESS, port: ejabberd.s2sPort, domain: "ejabberd.test" }, ca, options));
  return results;
}
