// A real nats-server with JetStream (store in the scope's work dir) on a free port —
// never 4222: other servers on this machine may use it.
import type { Netns } from "./netns.ts";
import { freePort } from "./ports.ts";
import { spawnProcess } from "./processes.ts";
import type { RunningProcess } from "./processes.ts";
import type { Scope } from "./scope.ts";

export interface NatsOptions {
  /** Listen address. Default 127.0.0.1. */
  readonly host?: string;
  readonly port?: number;
  readonly netns?: Netns;
  /** Default "nats". */
  readonly name?: string;
  readonly jetstream?: boolean;
}

export interface NatsServer {
  readonly host: string;
  readonly port: number;
  /** `nats://host:port` */
  readonly url: string;
  readonly storeDir: string;
  readonly process: RunningProcess;
  stop(): Promise<void>;
}

export async function startNats(scope: Scope, options: NatsOptions = {}): Promise<NatsServer> {
  const host = options.host ?? "127.0.0.1";
  const name = options.name ?? "nats";
  const storeDir = scope.dir(name, "jetstream");
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freePort(host, options.netns));
    const args = ["-a", host, "-p", String(port), "-n", `${name}-${process.pid}`];
    if (options.jetstream !== false) args.push("-js", "-sd", storeDir);
    const child = spawnProcess(scope, { name, command: "nats-server", args, netns: options.netns });
    try {
      await child.waitForLog("Server is ready", 10_000);
    } catch (error) {
      await child.stop();
      if (options.port === undefined && attempt < 3 && /address already in use/i.test(child.logTail())) continue;
      throw error;
    }
    return {
      host,
      port,
      url: `nats://${host}:${port}`,
      storeDir,
      process: child,
      stop: async () => {
        await child.stop();
      },
    };
  }
}
