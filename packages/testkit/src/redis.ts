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
