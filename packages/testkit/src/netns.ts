// Network namespaces for tests: an isolated `lo` with the 127.0.0.x addresses a scenario
// uses, its own /etc/hosts and /etc/resolv.conf (bind-mounted by `ip netns exec`), and
// a cleanup that kills everything inside and deletes it — on success, failure or signal.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Scope } from "./scope.ts";
import { runCommand, sleep } from "./run-command.ts";
import type { CommandResult, RunCommandOptions } from "./run-command.ts";

export const NETNS_PREFIX = "pstest-";
const OWNER_DIR = "/run/pstest-netns";

export interface NetnsOptions {
  /** 127.0.0.x addresses to add to `lo` (127.0.0.1 is always there). */
  readonly addresses: readonly string[];
  /** The nameserver written to the namespace's resolv.conf (the test's bind9). */
  readonly nameserver?: string;
  /** Extra /etc/hosts entries, name → address. `localhost` is always present. */
  readonly hosts?: Readonly<Record<string, string>>;
  /** A short word added to the generated name, for humans reading `ip netns list`. */
  readonly label?: string;
}

export interface Netns {
  readonly name: string;
  readonly addresses: readonly string[];
  /** `[ "ip", ["netns","exec",name, command, ...args] ]`, for spawn. */
  wrap(command: string, args: readonly string[]): [string, string[]];
  /** Runs a short command inside, bounded. */
  exec(command: string, args: readonly string[], options?: RunCommandOptions): Promise<CommandResult>;
  /** PIDs of every process inside. */
  pids(): Promise<number[]>;
  /** Kills everything inside and deletes the namespace (idempotent; also run by the scope). */
  destroy(): Promise<void>;
}

let counter = 0;

function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 22 (starttime), counted after the ")" closing the command name.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19];
  } catch {
    return undefined;
  }
}

function hostsFile(hosts: Readonly<Record<string, string>> | undefined): string {
  const lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"];
  for (const [name, address] of Object.entries(hosts ?? {})) lines.push(`${address}\t${name}`);
  return `${lines.join("\n")}\n`;
}

function listNamespaces(): string[] {
  const result = spawnSync("ip", ["netns", "list"], { encoding: "utf8" });
  return (result.stdout ?? "")
    .split("\n")
    .map((line) => line.split(" ")[0] ?? "")
    .filter((name) => name.startsWith(NETNS_PREFIX));
}

function pidsInSync(name: string): number[] {
  const result = spawnSync("ip", ["netns", "pids", name], { encoding: "utf8" });
  return (result.stdout ?? "")
    .split(/\s+/)
    .filter((s) => s !== "")
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0);
}

function killAll(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** Synchronous teardown, used by the exit handler and the stale sweep. */
function destroySync(name: string): void {
  killAll(pidsInSync(name), "SIGKILL");
  spawnSync("ip", ["netns", "delete", name]);
  rmSync(join("/etc/netns", name), { recursive: true, force: true });
  rmSync(join(OWNER_DIR, name), { force: true });
}

async function destroyGracefully(name: string, graceMs: number): Promise<void> {
  const first = pidsInSync(name);
  killAll(first, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && pidsInSync(name).length > 0) await sleep(50);
  // Everything still inside after the grace period is killed (bounded: two rounds).
  for (let round = 0; round < 2; round++) {
    const left = pidsInSync(name);
    if (left.length === 0) break;
    killAll(left, "SIGKILL");
    await sleep(100);
  }
  await runCommand("ip", ["netns", "delete", name], { allowFailure: true, timeoutMs: 10_000 });
  rmSync(join("/etc/netns", name), { recursive: true, force: true });
  rmSync(join(OWNER_DIR, name), { force: true });
}

/** Creates a namespace with `lo` up and the given addresses; destroyed when the scope closes. */
export async function createNetns(scope: Scope, options: NetnsOptions): Promise<Netns> {
  counter += 1;
  const label = options.label === undefined ? "" : `-${options.label.replace(/[^a-z0-9]/gi, "").slice(0, 12)}`;
  const name = `${NETNS_PREFIX}${process.pid}-${counter}${label}`;
  const etcDir = join("/etc/netns", name);
  mkdirSync(etcDir, { recursive: true });
  writeFileSync(join(etcDir, "hosts"), hostsFile(options.hosts));
  writeFileSync(
    join(etcDir, "resolv.conf"),
    options.nameserver === undefined ? "options attempts:1 timeout:1\n" : `nameserver ${options.nameserver}\noptions attempts:1 timeout:1\n`,
  );
  mkdirSync(OWNER_DIR, { recursive: true });
  writeFileSync(join(OWNER_DIR, name), `${process.pid} ${startTimeOf(process.pid) ?? ""}\n`);

  let destroyed = false;
  const destroy = async (): Promise<void> => {
    if (destroyed) return;
    destroyed = true;
    await destroyGracefully(name, 3_000);
  };
  scope.defer(`netns ${name}`, destroy, () => {
    if (!destroyed) destroySync(name);
  });

  await runCommand("ip", ["netns", "add", name]);
  await runCommand("ip", ["-n", name, "link", "set", "lo", "up"]);
  for (const address of options.addresses) {
    if (address === "127.0.0.1") continue;
    await runCommand("ip", ["-n", name, "addr", "add", `${address}/8`, "dev", "lo"]);
  }

  const wrap = (command: string, args: readonly string[]): [string, string[]] => [
    "ip",
    ["netns", "exec", name, command, ...args],
  ];
  return {
    name,
    addresses: [...options.addresses],
    wrap,
    exec: (command, args, runOptions) => {
      const [cmd, fullArgs] = wrap(command, args);
      return runCommand(cmd, fullArgs, runOptions);
    },
    pids: () => Promise.resolve(pidsInSync(name)),
    destroy,
  };
}

function ownerIsAlive(name: string): boolean {
  const match = /^pstest-(\d+)-/.exec(name);
  if (match === null) return false;
  const pid = Number(match[1]);
  const startTime = startTimeOf(pid);
  if (startTime === undefined) return false;
  const markerPath = join(OWNER_DIR, name);
  if (!existsSync(markerPath)) return true; // cannot tell: leave it alone
  const recorded = readFileSync(markerPath, "utf8").trim().split(" ")[1] ?? "";
  return recorded === "" || recorded === startTime;
}

/**
 * Removes `pstest-*` namespaces (and their /etc/netns entries) left by a crashed earlier run:
 * only those whose creating process is dead (PID + start time recorded at creation).
 * Returns the names removed.
 */
export function sweepStaleNetns(): string[] {
  const removed: string[] = [];
  const candidates = new Set(listNamespaces());
  if (existsSync("/etc/netns")) {
    for (const entry of readdirSync("/etc/netns")) if (entry.startsWith(NETNS_PREFIX)) candidates.add(entry);
  }
  for (const name of candidates) {
    if (ownerIsAlive(name)) continue;
    destroySync(name);
    removed.push(name);
  }
  return removed;
}
