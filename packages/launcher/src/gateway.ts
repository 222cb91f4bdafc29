/**
 * Starts the gateway's services as separate processes, the way Kubernetes runs them: each with
 * the same configuration file, each alone. Used by `scripts/up.sh`, the e2e tests and the
 * benchmarks. Waits until every service answers /readyz, and stops them all on scope close.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { validateConfig, type RawConfig } from "@passerelle/config";
import { repoRoot, spawnProcess, sleep, type Netns, type RunningProcess, type Scope } from "@passerelle/testkit";

export const SERVICES = ["dns-registrar", "dialback-authority", "policy", "sip-translator", "edge-listener"] as const;
export type ServiceName = (typeof SERVICES)[number];

const httpKey = {
  "edge-listener": "edgeListener",
  "dialback-authority": "dialbackAuthority",
  policy: "policy",
  "sip-translator": "sipTranslator",
  "dns-registrar": "dnsRegistrar",
} as const;

export interface GatewayOptions {
  config: RawConfig;
  netns?: Netns;
  /** Which services to start (all by default), and how many replicas of each. */
  replicas?: Partial<Record<ServiceName, number>>;
  env?: NodeJS.ProcessEnv;
  /** How long to wait for every /readyz. */
  readyTimeoutMs?: number;
}

export interface RunningService {
  name: ServiceName;
  replica: number;
  httpUrl: string;
  process: RunningProcess;
}

export interface Gateway {
  configFile: string;
  services: RunningService[];
  stop(): Promise<void>;
}

export async function startGateway(scope: Scope, options: GatewayOptions): Promise<Gateway> {
  // Validate here too, so a test with a bad configuration fails with the reason at once.
  validateConfig(options.config, "test configuration");
  const configFile = join(scope.dir("gateway"), "passerelle.yaml");
  writeFileSync(configFile, stringify(options.config));
  const services: RunningService[] = [];
  const replicas = options.replicas ?? Object.fromEntries(SERVICES.map((s) => [s, 1]));
  const parsed = validateConfig(options.config);
  for (const name of SERVICES) {
    const count = replicas[name] ?? 0;
    for (let replica = 0; replica < count; replica++) {
      const http = parsed.services[httpKey[name]].http;
      const port = http.port + replica * 100;
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        ...options.env,
        PASSERELLE_CONFIG: configFile,
        PASSERELLE_HTTP_PORT: String(port),
        POD_NAME: `${name}-${replica}`,
      };
      if (name === "edge-listener" && replica > 0) env.PASSERELLE_EDGE_PORT = String(parsed.edge.listen.port + replica);
      if (name === "sip-translator" && replica > 0) env.PASSERELLE_SIP_PORT = String(parsed.sip.listen.port + replica);
      if (name === "policy" && replica > 0) env.PASSERELLE_GRPC_PORT = String(parsed.services.policy.grpc.port + replica);
      const child = spawnProcess(scope, {
        name: `${name}-${replica}`,
        command: process.execPath,
        args: ["--import", "tsx", join(repoRoot, "services", name, "src", "main.ts")],
        cwd: repoRoot,
        env,
        ...(options.netns === undefined ? {} : { netns: options.netns }),
        stopTimeoutMs: 8000,
      });
      services.push({ name, replica, httpUrl: `http://${http.host}:${port}`, process: child });
    }
  }
  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  for (const service of services) {
    await waitReady(service, deadline, options.netns);
  }
  return {
    configFile,
    services,
    stop: async () => {
      await Promise.all(services.map((s) => s.process.stop()));
    },
  };
}

async function waitReady(service: RunningService, deadline: number, netns: Netns | undefined): Promise<void> {
  let last = "no answer";
  while (Date.now() < deadline) {
    if (service.process.exitInfo() !== undefined) {
      throw new Error(`${service.name} exited before it was ready:\n${service.process.logTail()}`);
    }
    try {
      const status = netns === undefined ? await httpStatus(`${service.httpUrl}/readyz`) : await httpStatusInNetns(netns, `${service.httpUrl}/readyz`);
      if (status === 200) return;
      last = `HTTP ${status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(200);
  }
  throw new Error(`${service.name} not ready in time (${last}):\n${service.process.logTail()}`);
}

async function httpStatus(url: string): Promise<number> {
  const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
  await response.body?.cancel();
  return response.status;
}

/** Inside a namespace the test process cannot connect itself: a short node process asks. */
async function httpStatusInNetns(netns: Netns, url: string): Promise<number> {
  const script = `fetch(${JSON.stringify(url)},{signal:AbortSignal.timeout(2000)}).then(r=>{console.log(r.status)},()=>console.log(0))`;
  const result = await netns.exec(process.execPath, ["-e", script], { timeoutMs: 5000, allowFailure: true });
  return Number(result.stdout.trim()) || 0;
}
