/** For the policy tests: the admin HTTP app (every route of main.ts) on a real Redis, without NATS. */
import { Redis } from "ioredis";
import type { FastifyInstance } from "fastify";
import { createHttpServer } from "@passerelle/runtime";
import { createLogger, createMetricsRegistry, type Logger, type Registry } from "@passerelle/telemetry";
import type { AdminToken } from "../environment.ts";
import { setupAdminHttp, type AdminHttp, type AdminHttpOptions } from "./admin-http.ts";
import { startAdminTls, type AdminTlsListener, type AdminTlsSettings } from "./admin-tls.ts";
import { registerUserRoutes } from "./admin-routes.ts";
import { registerOpenApi } from "./openapi.ts";
import { PartnerAdmin } from "./partner-admin.ts";
import { registerPartnerRoutes } from "./partner-routes.ts";
import { PartnerStore } from "./partner-store.ts";
import { UserStore } from "./user-store.ts";

export const TOKEN = "unit-admin-token-0123456789";
export const OTHER_TOKEN = "unit-other-token-0123456789";
export const LOCAL_DOMAIN = "contoso.test";

export interface TestAdminApp {
  app: FastifyInstance;
  http: AdminHttp;
  redis: Redis;
  store: PartnerStore;
  admin: PartnerAdmin;
  events: { kind: string; key: string; revision?: number }[];
  log: Logger;
  close(): Promise<void>;
}

export async function buildAdminApp(
  redisUrl: string,
  tokens: AdminToken[] = [
    { name: "admin", token: TOKEN },
    { name: "ops", token: OTHER_TOKEN },
  ],
): Promise<TestAdminApp> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
  const log = createLogger("policy-test", "silent");
  const metrics = createMetricsRegistry("policy-test");
  const app = createHttpServer(metrics, new Map(), () => false);
  const http = setupAdminHttp(app, { tokens, log, metrics });
  const events: TestAdminApp["events"] = [];
  const store = new PartnerStore(redis, { xmppAccessDefault: true });
  const localDomains = new Set([LOCAL_DOMAIN]);
  const admin = new PartnerAdmin({
    store,
    redis,
    localDomains,
    log,
    changed: (kind, key, revision) => events.push({ kind, key, revision }),
  });
  const users = new UserStore(redis, () => true);
  registerUserRoutes(app, {
    localDomains,
    log,
    http,
    deps: () => ({ store: users, changed: (kind, key) => events.push({ kind, key }) }),
  });
  registerPartnerRoutes(app, { http, admin: () => admin });
  registerOpenApi(app, http);
  await app.ready();
  return {
    app,
    http,
    redis,
    store,
    admin,
    events,
    log,
    close: async () => {
      await app.close();
      await redis.quit();
    },
  };
}

export interface TestAdminTlsApp extends Omit<TestAdminApp, "app" | "http"> {
  listener: AdminTlsListener;
  metrics: Registry;
  /** https://127.0.0.1:<port> */
  url: string;
}

/**
 * The same routes on the TLS listener of admin-tls.ts (client certificates), on a free port of
 * 127.0.0.1 (`url` names it https://localhost:<port>, the server certificate's name).
 */
export async function buildAdminTlsApp(
  redisUrl: string,
  files: Omit<AdminTlsSettings, "host" | "port" | "requireClientCert">,
  options: { requireClientCert?: boolean; tokens?: AdminToken[]; reloadMs?: number } = {},
): Promise<TestAdminTlsApp> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
  const log = createLogger("policy-test", "silent");
  const metrics = createMetricsRegistry("policy-test");
  const events: TestAdminApp["events"] = [];
  const store = new PartnerStore(redis, { xmppAccessDefault: true });
  const localDomains = new Set([LOCAL_DOMAIN]);
  const admin = new PartnerAdmin({
    store,
    redis,
    localDomains,
    log,
    changed: (kind, key, revision) => events.push({ kind, key, revision }),
  });
  const users = new UserStore(redis, () => true);
  const requireClientCert = options.requireClientCert ?? true;
  const clientCertificates: AdminHttpOptions["clientCertificates"] = requireClientCert
    ? "required"
    : "or-bearer";
  let listener: AdminTlsListener;
  try {
    listener = await startAdminTls({
      settings: { ...files, host: "127.0.0.1", port: 0, requireClientCert },
      log,
      metrics,
      ...(options.reloadMs === undefined ? {} : { reloadMs: options.reloadMs }),
      register: (app) => {
        const http = setupAdminHttp(app, { tokens: options.tokens ?? [], log, metrics, clientCertificates });
        registerUserRoutes(app, {
          localDomains,
          log,
          http,
          deps: () => ({ store: users, changed: (kind, key) => events.push({ kind, key }) }),
        });
        registerPartnerRoutes(app, { http, admin: () => admin });
        registerOpenApi(app, http);
      },
    });
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  return {
    listener,
    metrics,
    url: `https://localhost:${listener.address.split(":").pop() ?? ""}`,
    redis,
    store,
    admin,
    events,
    log,
    close: async () => {
      await listener.close();
      await redis.quit();
    },
  };
}
