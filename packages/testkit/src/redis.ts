// A real redis-server without persistence on a free port — never 6379: other servers
// on this machine may use it.
import type { Netns } from "./netns.ts";
import { freePort } from "./ports.ts";
import { spawnProcess } from "./processes.ts";
import type { RunningProcess } from "./processes.ts";
import type { Scope } from "./scope.ts";

export interface RedisOptions {
  /** Listen address. Default 127.0.0.1. */
  readonly host?: string;
  readonly port?: number;
  readonly netns?: Netns;
  /** Default "redis". */
  readonly name?: string;
}

export interface RedisServer {
  readonly host: string;
  readonly port: number;
  /** `redis://host:port` */
  readonly url: string;
  readonly process: RunningProcess;
  stop(): Promise<void>;
}

export async function startRedis(scope: Scope, options: RedisOptions = {}): Promise<RedisServer> {
  const host = options.host ?? "127.0.0.1";
  const name = options.name ?? "redis";
  const dir = scope.dir(name);
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freePort(host, options.netns));
    const args = [
      "--bind", host,
      "--port", String(port),
      "--save", "",
      "--appendonly", "no",
      "--dir", dir,
      "--protected-mode", "no",
      "--daemonize", "no",
      "--logfile", "",
    ];
    const child = spawnProcess(scope, { name, command: "redis-server", args, netns: options.netns });
    try {
      await child.waitForLog("Ready to accept connections", 10_000);
    } catch (error) {
      await child.stop();
      if (options.port === undefined && attempt < 3 && /address already in use/i.test(child.logTail())) continue;
      throw error;
    }
    return {
      host,
      port,
      url: `redis://${host}:${port}`,
      process: child,
      stop: async () => {
        await child.stop();
      },
    };
  }
}

/** The names of the commands a Redis client sent, for tests that count round trips. */
export interface RedisCommandLog {
  readonly names: readonly string[];
  count(...names: string[]): number;
  clear(): void;
}

/** Wraps a client's sendCommand (ioredis) to record each command's name; the commands still go out. */
export function recordRedisCommands(client: { sendCommand(command: { name: string }, stream?: unknown): unknown }): RedisCommandLog {
  const names: string[] = [];
  const send = client.sendCommand.bind(client);
  client.sendCommand = (command: { name: string }, stream?: unknown) => {
    names.push(command.name);
    return send(command, stream);
  };
  return {
    names,
    count: (...wanted: string[]) => names.filter((n) => wanted.includes(n)).length,
    clear: () => void names.splice(0),
  };
}
