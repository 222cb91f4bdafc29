/** policy: partners and what each partner type may do; the allow-lists; the partner store; the admin APIs. */
import { queues, subjects, type ConfigChanged } from "@passerelle/contracts";
import { ensureInboundStream, ensurePolicyConsumer, LivePartners, runService, type ServiceContext } from "@passerelle/runtime";
import { InboundConsumer } from "./adapters/inbound-consumer.ts";
import { InboundHandler } from "./adapters/inbound-handler.ts";
import { registerUserRoutes } from "./adapters/admin-routes.ts";
import type { FastifyInstance } from "fastify";
import { Counter, type Logger, type Registry } from "@passerelle/telemetry";
import type { GatewayConfig } from "@passerelle/config";
import { setupAdminHttp, type AdminHttpOptions } from "./adapters/admin-http.ts";
import { startAdminTls } from "./adapters/admin-tls.ts";
import { registerOpenApi } from "./adapters/openapi.ts";
import { OutboundAuthorizer } from "./adapters/outbound-authorizer.ts";
import { AdminError, PartnerAdmin } from "./adapters/partner-admin.ts";
import { registerPartnerRoutes } from "./adapters/partner-routes.ts";
import { PartnerStore } from "./adapters/partner-store.ts";
import { servePartnerSnapshots } from "./adapters/partner-snapshots.ts";
import { startAdminGrpc } from "./adapters/grpc-server.ts";
import { UserStore } from "./adapters/user-store.ts";
import { AdminTokenSource } from "./environment.ts";

/** Seconds between checks of the admin token files (a rotated Secret applies without a restart). */
const TOKEN_RELOAD_MS = 5_000;

let tokens: AdminTokenSource;
try {
  tokens = new AdminTokenSource(process.env);
} catch (err) {
  process.stderr.write(`policy: ${(err as Error).message}\n`);
  process.exit(2);
}

interface Running {
  users: UserStore;
  admin: PartnerAdmin;
  ctx: ServiceContext;
}
let running: Running | undefined;
const started = (): Running => {
  if (running === undefined) throw new AdminError(503, "starting", "the policy service is still connecting to Redis and NATS");
  return running;
};

/** Every admin route, on the plain HTTP app and on the TLS one (adminTls). */
function registerAdminRoutes(app: FastifyInstance, o: { config: GatewayConfig; log: Logger; metrics: Registry; clientCertificates?: AdminHttpOptions["clientCertificates"] }): void {
  const http = setupAdminHttp(app, { tokens, log: o.log, metrics: o.metrics, ...(o.clientCertificates === undefined ? {} : { clientCertificates: o.clientCertificates }) });
  registerUserRoutes(app, {
    localDomains: new Set(o.config.domains.map((d) => d.xmpp)),
    log: o.log,
    http,
    deps: () => {
      const r = started();
      return { store: r.users, changed: (kind, key) => r.ctx.bus.publish<ConfigChanged>(subjects.configChanged, { v: 1, kind, key }) };
    },
  });
  registerPartnerRoutes(app, { http, admin: () => started().admin });
  registerOpenApi(app, http);
}

await runService({
  name: "policy",
  routes(app, { config, log, metrics }) {
    registerAdminRoutes(app, { config, log, metrics });
  },
  async start(ctx) {
    const { config } = ctx;
    const localDomains = new Set(config.domains.map((d) => d.xmpp));
    const partnerStore = new PartnerStore(ctx.redis, { xmppAccessDefault: config.gateway.xmppAccessDefault });
    // First start only: the configuration file's partners and settings seed the store.
    const seed = await partnerStore.seed(config.partners, { xmppAccessDefault: config.gateway.xmppAccessDefault }, config.source);
    if (seed.seeded) ctx.log.info({ partners: config.partners.length, revision: seed.revision }, "partner store seeded from the configuration file");
    else ctx.log.info({ revision: seed.revision, seededAt: await partnerStore.seededAt() }, "partner store already seeded: the configuration file's partners are not applied (the store is the source of truth)");

    // Every replica of every service asks policy for the current set.
    const snapshots = servePartnerSnapshots(ctx.bus, partnerStore);
    ctx.onShutdown(() => snapshots.drain());
    const live = new LivePartners({ bus: ctx.bus, config, log: ctx.log, metrics: ctx.metrics, fetch: () => partnerStore.snapshot() });
    await live.start();
    ctx.onShutdown(() => live.stop());

    const store = new UserStore(ctx.redis, () => live.settings().xmppAccessDefault);
    // The hot path reads users' facts through a cache; config.changed events keep it current.
    const userChanges = store.watch(ctx.bus);
    ctx.onShutdown(() => userChanges.drain());
    const admin = new PartnerAdmin({
      store: partnerStore,
      redis: ctx.redis,
      localDomains,
      log: ctx.log,
      changed: (kind, key, revision) => ctx.bus.publish<ConfigChanged>(subjects.configChanged, { v: 1, kind, key, revision }),
    });
    running = { users: store, admin, ctx };

    const tokenReloads = new Counter({ name: "passerelle_policy_admin_token_reloads_total", help: "Re-reads of the admin token files after they changed, by outcome (reloaded, failed: the tokens in force are kept)", labelNames: ["outcome"], registers: [ctx.metrics] });
    const tokenTimer = setInterval(() => {
      const r = tokens.reloadIfChanged();
      if (r.outcome === "unchanged") return;
      tokenReloads.inc({ outcome: r.outcome });
      if (r.outcome === "reloaded") ctx.log.info({ tokens: r.count }, "admin tokens reloaded");
      else ctx.log.error({ reason: r.reason }, "admin token files changed but cannot be read: the tokens in force are kept");
    }, TOKEN_RELOAD_MS);
    tokenTimer.unref();
    ctx.onShutdown(() => clearInterval(tokenTimer));

    const adminTls = config.services.policy.adminTls;
    if (adminTls !== undefined) {
      const listener = await startAdminTls({
        settings: { ...adminTls, port: Number(process.env.PASSERELLE_ADMIN_TLS_PORT ?? adminTls.port) },
        log: ctx.log,
        metrics: ctx.metrics,
        register: (app) => registerAdminRoutes(app, { config, log: ctx.log, metrics: ctx.metrics, clientCertificates: adminTls.requireClientCert ? "required" : "or-bearer" }),
      });
      ctx.onShutdown(() => listener.close());
    }

    const grpc = await startAdminGrpc({
      host: config.services.policy.grpc.host,
      port: Number(process.env.PASSERELLE_GRPC_PORT ?? config.services.policy.grpc.port),
      // The admin TLS settings protect the gRPC API too (same certificate, same client CA).
      ...(adminTls === undefined ? {} : { tls: { certFile: adminTls.certFile, keyFile: adminTls.keyFile, clientCaFile: adminTls.clientCaFile, requireClientCert: adminTls.requireClientCert } }),
      tokens,
      admin,
      log: ctx.log,
    });
    ctx.onShutdown(() => grpc.close());

    const sipTimeoutMs = (config.sip.requestTimeout + 3) * 1000;
    const jsm = await ensureInboundStream(ctx.nats);
    // Redelivery only after the translator had its full time to answer.
    await ensurePolicyConsumer(jsm, sipTimeoutMs + 5000);
    const handler = new InboundHandler({
      bus: ctx.bus,
      store,
      partners: () => live.current(),
      sipDomains: new Map(config.domains.map((d) => [d.xmpp, d.sip])),
      sipTimeoutMs,
      log: ctx.log,
      metrics: ctx.metrics,
    });
    const authorizer = new OutboundAuthorizer({
      bus: ctx.bus,
      store,
      partners: () => live.current(),
      localDomains,
      log: ctx.log,
      metrics: ctx.metrics,
    });
    const authorizations = authorizer.serve();
    ctx.onShutdown(() => authorizations.drain());
    const consumer = new InboundConsumer(ctx.nats, handler, ctx.log);
    await consumer.start();
    ctx.onShutdown(() => consumer.stop());
    ctx.log.info({ partners: live.current().all().length, revision: live.revision, queue: queues.policy }, "policy ready");
  },
});
