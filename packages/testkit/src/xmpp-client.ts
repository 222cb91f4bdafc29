// A c2s client (npm @xmpp/client 0.14) for tests. The servers listen inside the test's
// network namespace, which the test process cannot reach; so each client runs as a small
// child process inside it (`ip netns exec NS node --import tsx xmpp-client-worker.ts`) and
// talks to the test over JSON lines on stdin/stdout. One process per client keeps it simple:
// no veth pairs or routes, nothing changes in the root namespace, and the child dies with it.
import { spawn } from "node:child_process";
import { openSync, closeSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { Netns } from "./netns.ts";
import { repoRoot } from "./scope.ts";
import type { Scope } from "./scope.ts";
import type { ReceivedStanza, WorkerCommand, WorkerEvent, WorkerSettings } from "./xmpp-client-protocol.ts";

export type { ReceivedStanza } from "./xmpp-client-protocol.ts";

export interface XmppServerAddress {
  readonly domain: string;
  readonly address: string;
  readonly c2sPort: number;
}

export interface XmppClientOptions {
  readonly netns: Netns;
  readonly server: XmppServerAddress;
  readonly username: string;
  readonly password: string;
  readonly resource?: string;
  /** Trusted for c2s STARTTLS (NODE_EXTRA_CA_CERTS). */
  readonly caFile?: string;
  /** Accept any c2s certificate (self-signed servers in dialback modes). */
  readonly insecureTls?: boolean;
  /** Report every stanza to the test (default true; benchmarks turn it off and only count). */
  readonly forwardStanzas?: boolean;
  /** Bound for connecting and authenticating. Default 15 s. */
  readonly connectTimeoutMs?: number;
}

export interface MessageMatch {
  readonly from?: string | RegExp;
  readonly body?: string | RegExp;
  readonly type?: string;
}

export interface CountResult {
  readonly received: number;
  /** Epoch ms of the first and last message counted. */
  readonly firstAt: number;
  readonly lastAt: number;
}

export interface XmppClient {
  /** The full JID bound by the server. */
  readonly jid: string;
  readonly logFile: string;
  /** Sends `<message type='chat'>` with the body (`count` > 1: bodies get ` #n`). */
  send(to: string, body: string, options?: { type?: string; count?: number; timeoutMs?: number }): Promise<void>;
  /** Writes raw XML on the stream. */
  sendRaw(xml: string): Promise<void>;
  /** Every stanza received so far (when forwarding). */
  received(): readonly ReceivedStanza[];
  /** The first message (already received or arriving within the bound) that matches. */
  waitForMessage(match: MessageMatch, timeoutMs?: number): Promise<ReceivedStanza>;
  /** Waits until the client has received `count` messages with a body in all. */
  waitForCount(count: number, timeoutMs: number): Promise<CountResult>;
  stop(): Promise<void>;
}

const workerFile = join(fileURLToPath(new URL(".", import.meta.url)), "xmpp-client-worker.ts");

function matches(stanza: ReceivedStanza, match: MessageMatch): boolean {
  if (stanza.name !== "message") return false;
  const test = (value: string | null, expected: string | RegExp | undefined): boolean =>
    expected === undefined || (value !== null && (typeof expected === "string" ? value === expected : expected.test(value)));
  return test(stanza.from, match.from) && test(stanza.body, match.body) && (match.type === undefined || stanza.type === match.type);
}

export async function connectXmppClient(scope: Scope, options: XmppClientOptions): Promise<XmppClient> {
  const resource = options.resource ?? `testkit-${Math.random().toString(36).slice(2, 8)}`;
  const settings: WorkerSettings = {
    service: `xmpp://${options.server.address}:${options.server.c2sPort}`,
    domain: options.server.domain,
    username: options.username,
    password: options.password,
    resource,
    forwardStanzas: options.forwardStanzas ?? true,
  };
  const env: NodeJS.ProcessEnv = { ...process.env, PSTEST_XMPP_CLIENT: JSON.stringify(settings) };
  if (options.caFile !== undefined) env["NODE_EXTRA_CA_CERTS"] = options.caFile;
  if (options.insecureTls === true) env["NODE_TLS_REJECT_UNAUTHORIZED"] = "0";
  const logFile = join(scope.workDir, `xmpp-client-${options.username}@${options.server.domain}-${resource}.log`);
  const logFd = openSync(logFile, "a");
  const [command, args] = options.netns.wrap(process.execPath, ["--import", "tsx", workerFile]);
  const child = spawn(command, args, { stdio: ["pipe", "pipe", logFd], cwd: repoRoot, env });
  closeSync(logFd);
  const { stdin, stdout } = child;
  if (stdin === null || stdout === null) throw new Error("xmpp client worker has no stdio pipes");

  const stanzas: ReceivedStanza[] = [];
  const stanzaWaiters = new Set<() => void>();
  const replies = new Map<number, (event: Extract<WorkerEvent, { event: "reply" }>) => void>();
  let nextId = 1;
  let exited = false;
  let onlineResolve: ((jid: string) => void) | undefined;
  let onlineReject: ((error: Error) => void) | undefined;
  const online = new Promise<string>((resolve, reject) => {
    onlineResolve = resolve;
    onlineReject = reject;
  });

  createInterface({ input: stdout }).on("line", (line) => {
    let event: WorkerEvent;
    try {
      event = JSON.parse(line) as WorkerEvent;
    } catch {
      return;
    }
    switch (event.event) {
      case "online":
        onlineResolve?.(event.jid);
        break;
      case "failed":
        onlineReject?.(new Error(`${options.username}@${options.server.domain} could not connect: ${event.message}`));
        break;
      case "stanza": {
        const { event: _ignored, ...stanza } = event;
        stanzas.push(stanza);
        for (const wake of stanzaWaiters) wake();
        break;
      }
      case "reply":
        replies.get(event.id)?.(event);
        replies.delete(event.id);
        break;
      case "offline":
      case "log":
        break;
    }
  });
  child.once("exit", (code) => {
    exited = true;
    onlineReject?.(new Error(`xmpp client worker exited (code ${String(code)}) before going online; see ${logFile}`));
    for (const wake of stanzaWaiters) wake();
    for (const [id, reply] of replies) reply({ event: "reply", id, ok: false, error: "worker exited", received: 0 });
    replies.clear();
  });

  const kill = (): void => {
    if (!exited) child.kill("SIGKILL");
  };
  const request = (command: WorkerCommand, timeoutMs: number): Promise<Extract<WorkerEvent, { event: "reply" }>> =>
    new Promise((resolve, reject) => {
      if (exited) {
        reject(new Error(`xmpp client ${options.username} is not running; see ${logFile}`));
        return;
      }
      const timer = setTimeout(() => {
        replies.delete(command.id);
        reject(new Error(`xmpp client ${options.username}: no reply to ${command.op} within ${timeoutMs} ms`));
      }, timeoutMs);
      replies.set(command.id, (event) => {
        clearTimeout(timer);
        resolve(event);
      });
      stdin.write(`${JSON.stringify(command)}\n`);
    });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (!exited) {
        await request({ id: nextId++, op: "stop" }, 5_000).catch(() => undefined);
      }
      kill();
    })();
    return stopping;
  };
  scope.defer(`xmpp client ${options.username}@${options.server.domain}`, stop, kill);

  const connectTimeoutMs = options.connectTimeoutMs ?? 15_000;
  let connectTimer: NodeJS.Timeout | undefined;
  const jid = await Promise.race([
    online,
    new Promise<never>((_, reject) => {
      connectTimer = setTimeout(
        () => reject(new Error(`${options.username}@${options.server.domain} not online within ${connectTimeoutMs} ms; see ${logFile}`)),
        connectTimeoutMs,
      );
    }),
  ]).finally(() => clearTimeout(connectTimer));

  return {
    jid,
    logFile,
    send: async (to, body, sendOptions = {}) => {
      const command: WorkerCommand = { id: nextId++, op: "send", to, body };
      const full: WorkerCommand = { ...command, ...(sendOptions.type === undefined ? {} : { type: sendOptions.type }), ...(sendOptions.count === undefined ? {} : { count: sendOptions.count }) };
      const reply = await request(full, sendOptions.timeoutMs ?? 30_000);
      if (!reply.ok) throw new Error(`send failed: ${reply.error ?? "unknown"}`);
    },
    sendRaw: async (xml) => {
      const reply = await request({ id: nextId++, op: "raw", xml }, 10_000);
      if (!reply.ok) throw new Error(`sendRaw failed: ${reply.error ?? "unknown"}`);
    },
    received: () => [...stanzas],
    waitForMessage: async (match, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = stanzas.find((s) => matches(s, match));
        if (found !== undefined) return found;
        const left = deadline - Date.now();
        if (left <= 0 || exited) {
          const seen = stanzas.map((s) => `  ${s.xml}`).join("\n") || "  (nothing)";
          throw new Error(`${jid} received no message matching ${JSON.stringify(match, (_k, v: unknown) => (v instanceof RegExp ? String(v) : v))} within ${timeoutMs} ms; received:\n${seen}`);
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, Math.min(left, 500));
          function done(): void {
            clearTimeout(timer);
            stanzaWaiters.delete(done);
            resolve();
          }
          stanzaWaiters.add(done);
        });
      }
    },
    waitForCount: async (count, timeoutMs) => {
      const reply = await request({ id: nextId++, op: "waitCount", count, timeoutMs }, timeoutMs + 5_000);
      if (!reply.ok) throw new Error(`${jid}: ${reply.error ?? "count not reached"}`);
      return { received: reply.received, firstAt: reply.firstAt ?? 0, lastAt: reply.lastAt ?? 0 };
    },
    stop,
  };
}
