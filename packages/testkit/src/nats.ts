// A real nats-server with JetStream (store in the scope's work dir) on a free port —
// never 4222: other servers on this machine may use it.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
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
  /** Accept leaf node connections (on a free port) and name this server's JetStream domain. */
  readonly leafnodeHub?: { readonly jetstreamDomain: string };
  /**
   * Run as a leaf node of `hub` (no JetStream here): clients of this server reach the hub's
   * subscribers, and their JetStream API calls are mapped to the hub's domain.
   */
  readonly leafOf?: NatsServer;
}

export interface NatsServer {
  readonly host: string;
  readonly port: number;
  /** `nats://host:port` */
  readonly url: string;
  readonly storeDir: string;
  /** `nats-leaf://host:port` when started with `leafnodeHub`. */
  readonly leafnodeUrl?: string;
  readonly jetstreamDomain?: string;
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
    const leaf = await leafConfig(scope, name, host, storeDir, options);
    if (leaf.file !== undefined) args.push("-c", leaf.file);
    else if (options.jetstream !== false) args.push("-js", "-sd", storeDir);
    const child = spawnProcess(scope, { name, command: "nats-server", args, netns: options.netns });
    try {
      await child.waitForLog("Server is ready", 10_000);
      if (options.leafOf !== undefined) await child.waitForLog(/Leafnode connection created/i, 10_000);
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
      ...(leaf.url === undefined ? {} : { leafnodeUrl: leaf.url }),
      ...(options.leafnodeHub === undefined ? {} : { jetstreamDomain: options.leafnodeHub.jetstreamDomain }),
      process: child,
      stop: async () => {
        await child.stop();
      },
    };
  }
}

/** A configuration file for the leaf node settings (command-line flags cannot say them). */
async function leafConfig(scope: Scope, name: string, host: string, storeDir: string, options: NatsOptions): Promise<{ file?: string; url?: string }> {
  const lines: string[] = [];
  let url: string | undefined;
  if (options.leafnodeHub !== undefined) {
    const leafPort = await freePort(host, options.netns);
    url = `nats-leaf://${host}:${leafPort}`;
    lines.push(`jetstream { store_dir: ${JSON.stringify(storeDir)}, domain: ${JSON.stringify(options.leafnodeHub.jetstreamDomain)} }`);
    lines.push(`leafnodes { listen: ${JSON.stringify(`${host}:${leafPort}`)} }`);
  }
  if (options.leafOf !== undefined) {
    const hub = options.leafOf;
    if (hub.leafnodeUrl === undefined || hub.jetstreamDomain === undefined) throw new Error("leafOf: the hub was not started with leafnodeHub");
    lines.push(`leafnodes { remotes: [ { url: ${JSON.stringify(hub.leafnodeUrl)} } ] }`);
    lines.push(`mappings { "$JS.API.>": ${JSON.stringify(`$JS.${hub.jetstreamDomain}.API.>`)} }`);
  }
  if (lines.length === 0) return {};
  const file = join(scope.dir(name), "nats.conf");
  writeFileSync(file, `${lines.join("\n")}\n`);
  return { file, ...(url === undefined ? {} : { url }) };
}
