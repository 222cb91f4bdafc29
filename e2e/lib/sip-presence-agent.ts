// The test side of sip-presence-agent-worker.ts: a SIP presence user agent inside the namespace
// (like the testkit's XMPP client: a child process speaking JSON lines).
import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { repoRoot, type Netns, type Scope } from "@passerelle/testkit";
import type { AgentCommand, AgentEvent, AgentSettings } from "./sip-presence-agent-worker.ts";

export type AgentReply = Extract<AgentEvent, { event: "reply" }>;
export type ReceivedNotify = Extract<AgentEvent, { event: "notify" }>;

type CommandBody<T> = T extends unknown ? Omit<T, "id"> : never;

export interface SipPresenceAgent {
  run(command: CommandBody<AgentCommand>, timeoutMs?: number): Promise<AgentReply>;
  notifies(): readonly ReceivedNotify[];
  /** The first NOTIFY (already received or arriving within the bound) that matches. */
  waitForNotify(match: (n: ReceivedNotify) => boolean, timeoutMs?: number): Promise<ReceivedNotify>;
  stop(): Promise<void>;
}

const workerFile = join(fileURLToPath(new URL(".", import.meta.url)), "sip-presence-agent-worker.ts");

export async function startSipPresenceAgent(scope: Scope, netns: Netns, settings: AgentSettings): Promise<SipPresenceAgent> {
  const logFile = join(scope.workDir, `sip-presence-agent-${settings.port}.log`);
  const logFd = openSync(logFile, "a");
  const [command, args] = netns.wrap(process.execPath, ["--import", "tsx", workerFile]);
  const child = spawn(command, args, { stdio: ["pipe", "pipe", logFd], cwd: repoRoot, env: { ...process.env, PSTEST_SIP_AGENT: JSON.stringify(settings) } });
  closeSync(logFd);
  const { stdin, stdout } = child;
  if (stdin === null || stdout === null) throw new Error("sip presence agent has no stdio pipes");
  const received: ReceivedNotify[] = [];
  const replies = new Map<number, (reply: AgentReply) => void>();
  let nextId = 1;
  let exited = false;
  let readyResolve: (() => void) | undefined;
  const ready = new Promise<void>((resolve) => (readyResolve = resolve));
  createInterface({ input: stdout }).on("line", (line) => {
    let event: AgentEvent;
    try {
      event = JSON.parse(line) as AgentEvent;
    } catch {
      return;
    }
    if (event.event === "ready") readyResolve?.();
    else if (event.event === "notify") received.push(event);
    else {
      replies.get(event.id)?.(event);
      replies.delete(event.id);
    }
  });
  child.once("exit", () => {
    exited = true;
    readyResolve?.();
    for (const [id, reply] of replies) reply({ event: "reply", id, status: 0, reason: "agent exited" });
    replies.clear();
  });
  const kill = (): void => {
    if (!exited) child.kill("SIGKILL");
  };
  const run = (body: CommandBody<AgentCommand>, timeoutMs = 15_000): Promise<AgentReply> =>
    new Promise((resolve, reject) => {
      if (exited) return reject(new Error(`sip presence agent is not running; see ${logFile}`));
      const id = nextId++;
      const timer = setTimeout(() => {
        replies.delete(id);
        reject(new Error(`sip presence agent: no reply to ${body.op} within ${timeoutMs} ms`));
      }, timeoutMs);
      replies.set(id, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      stdin.write(`${JSON.stringify({ ...body, id })}\n`);
    });
  const stop = async (): Promise<void> => {
    await run({ op: "stop" }, 3_000).catch(() => undefined);
    kill();
  };
  scope.defer(`sip presence agent ${settings.port}`, stop, kill);
  await Promise.race([ready, new Promise((_, reject) => setTimeout(() => reject(new Error(`sip presence agent not ready; see ${logFile}`)), 15_000))]);
  if (exited) throw new Error(`sip presence agent exited; see ${logFile}`);
  return {
    run,
    notifies: () => [...received],
    async waitForNotify(match, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = received.find(match);
        if (found !== undefined) return found;
        if (Date.now() > deadline || exited) {
          throw new Error(`no matching NOTIFY within ${timeoutMs} ms; received:\n${received.map((n) => `  ${n.state} ${n.body.replace(/\s+/g, " ").slice(0, 300)}`).join("\n") || "  (nothing)"}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    stop,
  };
}
