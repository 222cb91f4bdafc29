// The standard scene for gateway scenarios: one network namespace holding bind9, the partners'
// XMPP servers, Kamailio, SIP user agents, NATS, Redis and the whole gateway — every party a
// real program. Each scenario says which partners it wants; the gateway gets one entry each.
import { readFileSync } from "node:fs";
import type { RawConfig } from "@passerelle/config";
import { SERVICES, startGateway, type Gateway, type GatewayOptions } from "@passerelle/launcher";
import {
  connectXmppClient,
  createNetns,
  createSelfSigned,
  createTestCa,
  startBind9,
  startEjabberd,
  startKamailio,
  startNats,
  startProsody,
  startRedis,
  startSipUas,
  xmppServerRecords,
  type Bind9Server,
  type CertificateFiles,
  type DnsRecord,
  type EjabberdServer,
  type KamailioRoute,
  type KamailioServer,
  type NatsServer,
  type Netns,
  type ProsodyServer,
  type RedisServer,
  type S2sMode,
  type Scope,
  type SipUas,
  type TestCa,
  type XmppClient,
  type XmppUser,
} from "@passerelle/testkit";

export const GATEWAY_DOMAIN = "gateway.test";
export const DNS_ADDRESS = "127.0.0.53";
export const GATEWAY_ADDRESS = "127.0.0.3";
export const SIP_PROXY_ADDRESS = "127.0.0.4";
export const SIP_AGENTS_ADDRESS = "127.0.0.5";
export const ADMIN_TOKEN = "e2e-admin-token-0123456789";

type PartnerEntry = NonNullable<RawConfig["partners"]>[number];

export interface PartnerServerSpec {
  kind: "prosody" | "ejabberd";
  domain: string;
  address: string;
  mode: S2sMode;
  users: XmppUser[];
  /** The gateway's entry for this domain; undefined: not a partner (its streams are refused). */
  partner?: Omit<PartnerEntry, "domain">;
}

/** How much the scene logs; benchmarks lower it so they measure the gateway, not the logging. */
export interface SceneOptions {
  /** LOG_LEVEL of the gateway services. Default "debug" (tests read the log lines). */
  gatewayLogLevel?: "trace" | "debug" | "info" | "warn" | "error";
  /** Prosody's and ejabberd's log level. Default: the testkit's (info). */
  peerLogLevel?: "info" | "warn";
  /** More environment for the gateway services (e.g. NODE_OPTIONS for profiling). */
  gatewayEnv?: NodeJS.ProcessEnv;
  /** Kamailio also serves presence (PUBLISH / SUBSCRIBE for our domain). */
  sipPresence?: boolean;
  /** Our domain's DNS records (default: SRV → s2s.gateway.test:5269 → GATEWAY_ADDRESS). */
  gatewayRecords?: DnsRecord[];
  /** Start NATS as a leaf node hub with this JetStream domain (for replicas on a leaf NATS). */
  natsLeafnodeHub?: { jetstreamDomain: string };
  /** Replicas per service (one each by default), e.g. { policy: 2, "edge-listener": 2 }. */
  replicas?: GatewayOptions["replicas"];
  /** Also listen for XEP-0368 direct TLS on this port (edge.directTls). */
  directTlsPort?: number;
}

export interface Scene {
  netns: Netns;
  nats: NatsServer;
  redis: RedisServer;
  ca: TestCa;
  dns: Bind9Server;
  kamailio: KamailioServer;
  gateway: Gateway;
  servers: Map<string, ProsodyServer | EjabberdServer>;
  /** JSON log lines of a gateway service, parsed. */
  logOf(service: string): Record<string, unknown>[];
  /** Calls the policy admin API from inside the namespace. */
  admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: string }>;
}

export async function startScene(scope: Scope, partners: PartnerServerSpec[], overrides: Partial<RawConfig> = {}, options: SceneOptions = {}): Promise<Scene> {
  const netns = await createNetns(scope, {
    addresses: [DNS_ADDRESS, GATEWAY_ADDRESS, SIP_PROXY_ADDRESS, SIP_AGENTS_ADDRESS, ...partners.map((p) => p.address)],
    nameserver: DNS_ADDRESS,
    label: "gw",
  });
  const ca = await createTestCa(scope.dir("pki"));
  // DNS-ID + SRV-ID (no xmppAddr: ejabberd 23.01 crashes on it, see testkit's federation pair).
  const gatewayCert = await ca.issue({ domains: [GATEWAY_DOMAIN], srvId: true });
  const dns = await startBind9(scope, {
    netns,
    address: DNS_ADDRESS,
    zones: [
      { domain: GATEWAY_DOMAIN, records: options.gatewayRecords ?? xmppServerRecords(GATEWAY_DOMAIN, GATEWAY_ADDRESS, { srvOnly: true }) },
      ...partners.map((p) => ({ domain: p.domain, records: xmppServerRecords(p.domain, p.address, { srvOnly: true }) })),
    ],
  });
  // Self-signed in the dialback modes (used for c2s only when s2s runs without TLS).
  const certificateFor = async (p: PartnerServerSpec): Promise<CertificateFiles> =>
    p.mode === "certificate" ? ca.issue({ domains: [p.domain], srvId: true }) : createSelfSigned(scope.dir("pki"), [p.domain]);

  const [nats, redis, kamailio] = await Promise.all([
    startNats(scope, { netns, host: "127.0.0.1", ...(options.natsLeafnodeHub === undefined ? {} : { leafnodeHub: options.natsLeafnodeHub }) }),
    startRedis(scope, { netns, host: "127.0.0.1" }),
    // Outbound messaging: Kamailio routes requests for every partner domain to the SIP translator.
    startKamailio(scope, { netns, address: SIP_PROXY_ADDRESS, domain: GATEWAY_DOMAIN, presence: options.sipPresence === true, routes: partnerRoutes(overrides.partners ?? partners.filter((p) => p.partner !== undefined).map((p) => ({ domain: p.domain, ...p.partner }) as PartnerEntry)) }),
  ]);
  const servers = new Map<string, ProsodyServer | EjabberdServer>();
  await Promise.all(
    partners.map(async (p) => {
      const certificate = await certificateFor(p);
      const common = { netns, domain: p.domain, address: p.address, mode: p.mode, caFile: ca.certFile, users: p.users, ...(certificate === undefined ? {} : { certificate }) };
      const quiet = options.peerLogLevel === "warn";
      servers.set(
        p.domain,
        p.kind === "prosody"
          ? await startProsody(scope, { ...common, ...(quiet ? { logLevel: "warn" as const } : {}) })
          : await startEjabberd(scope, { ...common, ...(quiet ? { logLevel: "warning" as const } : {}) }),
      );
    }),
  );

  const config: RawConfig = {
    domains: [{ xmpp: GATEWAY_DOMAIN }],
    gateway: {
      edgeFqdn: GATEWAY_DOMAIN,
      dialback: { secret: "e2e-dialback-secret-0123456789" },
      timeouts: { keepaliveInterval: 300, streamEstablishment: 20, streamInactivity: 600, subscriptionRefresh: 28800 },
    },
    edge: {
      listen: { host: GATEWAY_ADDRESS, port: 5269 },
      tls: { certFile: gatewayCert.certFile, keyFile: gatewayCert.keyFile, caFile: ca.certFile },
      ...(options.directTlsPort === undefined ? {} : { directTls: { host: GATEWAY_ADDRESS, port: options.directTlsPort } }),
    },
    nats: { url: nats.url },
    redis: { url: redis.url },
    dns: { server: `${DNS_ADDRESS}:53` },
    sip: {
      proxy: { host: SIP_PROXY_ADDRESS, port: kamailio.port, transport: "udp" },
      listen: { host: GATEWAY_ADDRESS, port: 5070, transport: "udp" },
      requestTimeout: 8,
    },
    partners: partners.filter((p) => p.partner !== undefined).map((p) => ({ domain: p.domain, ...p.partner }) as PartnerEntry),
    ...overrides,
  };
  const replicas = options.replicas === undefined ? undefined : { ...Object.fromEntries(SERVICES.map((name) => [name, 1])), ...options.replicas };
  const gateway = await startGateway(scope, { config, netns, ...(replicas === undefined ? {} : { replicas }), env: { ...options.gatewayEnv, PASSERELLE_ADMIN_TOKEN: ADMIN_TOKEN, LOG_LEVEL: options.gatewayLogLevel ?? "debug" } });

  const policyUrl = gateway.services.find((s) => s.name === "policy")?.httpUrl ?? "";
  return {
    netns,
    nats,
    redis,
    ca,
    dns,
    kamailio,
    gateway,
    servers,
    logOf(service) {
      const s = gateway.services.find((x) => x.name === service);
      if (s === undefined) return [];
      return readFileSync(s.process.logFile, "utf8")
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => {
          try {
            return JSON.parse(line) as Record<string, unknown>;
          } catch {
            return {};
          }
        });
    },
    async admin(method, path, body) {
      const script = `fetch(${JSON.stringify(policyUrl + path)},{method:${JSON.stringify(method)},headers:{authorization:'Bearer ${ADMIN_TOKEN}'${body === undefined ? "" : ",'content-type':'application/json'"}},${
        body === undefined ? "" : `body:${JSON.stringify(JSON.stringify(body))},`
      }signal:AbortSignal.timeout(5000)}).then(async r=>console.log(JSON.stringify({status:r.status,body:await r.text()})),e=>console.log(JSON.stringify({status:0,body:String(e)})))`;
      const result = await netns.exec(process.execPath, ["-e", script], { timeoutMs: 10_000, allowFailure: true });
      return JSON.parse(result.stdout.trim() || '{"status":0,"body":"no output"}') as { status: number; body: string };
    },
  };
}

/** The SIP translator's address in the scene (sip.listen below). */
export const SIP_TRANSLATOR_TARGET = `${GATEWAY_ADDRESS}:5070`;

function partnerRoutes(entries: readonly PartnerEntry[]): KamailioRoute[] {
  return entries.flatMap((p) => [p.domain, ...(p.additionalDomains ?? [])]).map((domain) => ({ domain, target: SIP_TRANSLATOR_TARGET, transport: "udp" as const }));
}

/** Waits (bounded) until a gateway service logged a line matching `predicate`. */
export async function waitForLogLine(scene: Scene, service: string, predicate: (line: Record<string, unknown>) => boolean, timeoutMs = 15_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const found = scene.logOf(service).find(predicate);
    if (found !== undefined) return found;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${service} logged no matching line within ${timeoutMs} ms`);
}

/** A sipp UAS for an internal user, on SIP_AGENTS_ADDRESS, registered at the scene's Kamailio. */
export function startSceneUas(scope: Scope, scene: Scene, user: string, port = 5080): Promise<SipUas> {
  return startSipUas(scope, {
    netns: scene.netns,
    address: SIP_AGENTS_ADDRESS,
    port,
    user,
    proxy: { address: SIP_PROXY_ADDRESS, port: scene.kamailio.port, domain: GATEWAY_DOMAIN },
  });
}

/** A c2s client of a partner server of the scene (its users trust the scene's CA, or any certificate). */
export function connectSceneClient(scope: Scope, scene: Scene, domain: string, user: XmppUser): Promise<XmppClient> {
  const server = scene.servers.get(domain);
  if (server === undefined) throw new Error(`no partner server ${domain} in the scene`);
  return connectXmppClient(scope, { netns: scene.netns, server, ...user, caFile: scene.ca.certFile, insecureTls: true });
}
