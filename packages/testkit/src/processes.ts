// Long-running processes for tests: output to a log file in the scope's work directory,
// readiness by log line or TCP port (bounded, errors carry the log tail), stopped by PID
// (SIGTERM to its process group, SIGKILL after a bound) when the scope closes.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import type { Netns } from "./netns.ts";
import type { Scope } from "./scope.ts";
import { sleep } from "./run-command.ts";

export interface SpawnOptions {
  /** Short name, used for the log file `<workDir>/<name>.log` and in errors. */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** Run inside this namespace (`ip netns exec`). */
  readonly netns?: Netns;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Defaults to `<workDir>/<name>.log`. */
  readonly logFile?: string;
  /** Signal sent first on stop. Default SIGTERM. */
  readonly stopSignal?: NodeJS.Signals;
  /** How long to wait after the first signal before SIGKILL. Default 5 s. */
  readonly stopTimeoutMs?: number;
}

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface RunningProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<ExitInfo>;
  /** Undefined while running. */
  exitInfo(): ExitInfo | undefined;
  /** The last lines of the log file. */
  logTail(lines?: number): string;
  /** Waits until the log matches; returns the matching line. Fails early if the process exits. */
  waitForLog(pattern: RegExp | string, timeoutMs?: number): Promise<string>;
  /** Waits until host:port accepts TCP (inside the process's namespace when it has one). */
  waitForPort(host: string, port: number, timeoutMs?: number): Promise<void>;
  /** SIGTERM to the process group, SIGKILL after the bound; idempotent. */
  stop(): Promise<ExitInfo>;
}

function readLog(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

function tailOf(text: string, lines: number): string {
  return text.split("\n").slice(-lines).join("\n");
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // gone
    }
  }
}

/** Starts a process with its own process group; registered for cleanup in the scope. */
export function spawnProcess(scope: Scope, options: SpawnOptions): RunningProcess {
  const logFile = options.logFile ?? join(scope.workDir, `${options.name}.log`);
  const fd = openSync(logFile, "a");
  const [command, args] =
    options.netns === undefined ? [options.command, [...options.args]] : options.netns.wrap(options.command, options.args);
  let child: ChildProcess;
  try {
    child = spawn(command, args, {
      stdio: ["ignore", fd, fd],
      detached: true,
      env: options.env ?? process.env,
      cwd: options.cwd ?? scope.workDir,
    });
  } finally {
    closeSync(fd);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not spawn ${options.name}: ${command} ${args.join(" ")}`);
  let exitInfo: ExitInfo | undefined;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once("exit", (code, signal) => {
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
    child.once("error", () => {
      exitInfo = { code: -1, signal: null };
      resolve(exitInfo);
    });
  });
  const stopTimeoutMs = options.stopTimeoutMs ?? 5_000;
  let stopping: Promise<ExitInfo> | undefined;

  const describe = (): string =>
    `${options.name} (pid ${pid}, log ${logFile})\n--- log tail ---\n${tailOf(readLog(logFile), 30)}\n---`;

  const stop = (): Promise<ExitInfo> => {
    stopping ??= (async () => {
      if (exitInfo !== undefined) {
        signalGroup(pid, "SIGKILL"); // leftovers of the group, if any
        return exitInfo;
      }
      signalGroup(pid, options.stopSignal ?? "SIGTERM");
      const result = await raceTimeout(exited, stopTimeoutMs);
      if (result === undefined) {
        signalGroup(pid, "SIGKILL");
        return (await raceTimeout(exited, 2_000)) ?? { code: null, signal: "SIGKILL" };
      }
      signalGroup(pid, "SIGKILL");
      return result;
    })();
    return stopping;
  };
  scope.defer(`process ${options.name} (${pid})`, async () => {
    await stop();
  }, () => signalGroup(pid, "SIGKILL"));

  const waitForLog = async (pattern: RegExp | string, timeoutMs = 15_000): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    const test = (line: string): boolean => (typeof pattern === "string" ? line.includes(pattern) : pattern.test(line));
    for (;;) {
      const found = readLog(logFile).split("\n").find(test);
      if (found !== undefined) return found;
      if (exitInfo !== undefined) {
        throw new Error(`${options.name} exited (${JSON.stringify(exitInfo)}) before logging ${String(pattern)}: ${describe()}`);
      }
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${String(pattern)} from ${describe()}`);
      }
      await sleep(50);
    }
  };

  const waitForPortHere = async (host: string, port: number, timeoutMs = 15_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const open =
        options.netns === undefined ? await probeTcp(host, port) : await probeTcpInNetns(options.netns, host, port);
      if (open) return;
      if (exitInfo !== undefined) {
        throw new Error(`${options.name} exited (${JSON.stringify(exitInfo)}) before ${host}:${port} answered: ${describe()}`);
      }
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${host}:${port} of ${describe()}`);
      }
      await sleep(100);
    }
  };

  return {
    name: options.name,
    pid,
    logFile,
    exited,
    exitInfo: () => exitInfo,
    logTail: (lines = 40) => tailOf(readLog(logFile), lines),
    waitForLog,
    waitForPort: waitForPortHere,
    stop,
  };
}

/** Waits (bounded) until a line of `file` matches; returns the line. For servers that log to their own file. */
export async function waitForFileLine(file: string, pattern: RegExp | string, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  const test = (line: string): boolean => (typeof pattern === "string" ? line.includes(pattern) : pattern.test(line));
  for (;;) {
    const text = readLog(file);
    const found = text.split("\n").find(test);
    if (found !== undefined) return found;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${String(pattern)} in ${file}\n--- log tail ---\n${tailOf(text, 30)}\n---`);
    }
    await sleep(100);
  }
}

/** The promise's value, or undefined after `ms` (the timer never keeps the process alive). */
async function raceTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** One TCP connect attempt from this process (root namespace), bounded to 1 s. */
export function probeTcp(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** One TCP connect attempt made inside a namespace (bash's /dev/tcp), bounded to 2 s. */
export async function probeTcpInNetns(netns: Netns, host: string, port: number): Promise<boolean> {
  const result = await netns
    .exec("timeout", ["1", "bash", "-c", `exec 3<>/dev/tcp/${host}/${port}`], { allowFailure: true, timeoutMs: 2_000 })
    .catch(() => undefined);
  return result?.code === 0;
}

/** Waits for host:port to accept TCP, from the root namespace or inside `netns`. */
export async function waitForPort(
  host: string,
  port: number,
  options: { readonly timeoutMs?: number; readonly netns?: Netns } = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  for (;;) {
    const open = options.netns === undefined ? await probeTcp(host, port) : await probeTcpInNetns(options.netns, host, port);
    if (open) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${host}:${port} to accept TCP`);
    await sleep(100);
  }
}
