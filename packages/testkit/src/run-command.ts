// Runs a short command to completion with a bounded wait (never hangs a test).
import { spawn } from "node:child_process";

export interface CommandResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunCommandOptions {
  /** Kill the command (SIGKILL) after this long. Default 30 s. */
  readonly timeoutMs?: number;
  /** Written to stdin, then stdin is closed. */
  readonly input?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Resolve with the result instead of throwing when the exit code is not 0. */
  readonly allowFailure?: boolean;
}

export async function runCommand(
  command: string,
  args: readonly string[],
  options: RunCommandOptions = {},
): Promise<CommandResult> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const child = spawn(command, args, {
    stdio: ["pipe", "pipe", "pipe"],
    env: options.env ?? process.env,
    cwd: options.cwd,
  });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
  child.stdin.on("error", () => undefined);
  child.stdin.end(options.input ?? "");
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, timeoutMs);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (c: number | null, s: NodeJS.Signals | null) => resolve([c, s]));
  }).finally(() => clearTimeout(timer));
  const result: CommandResult = {
    code,
    signal,
    stdout: Buffer.concat(stdout).toString("utf8"),
    stderr: Buffer.concat(stderr).toString("utf8"),
  };
  const line = [command, ...args].join(" ");
  if (timedOut) {
    throw new Error(`command timed out after ${timeoutMs} ms: ${line}\n${tail(result)}`);
  }
  if (code !== 0 && options.allowFailure !== true) {
    throw new Error(`command failed (code ${String(code)}, signal ${String(signal)}): ${line}\n${tail(result)}`);
  }
  return result;
}

function tail(result: CommandResult): string {
  const text = `${result.stdout}\n${result.stderr}`.trim().split("\n");
  return text.slice(-20).join("\n");
}

/** Bounded sleep. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
