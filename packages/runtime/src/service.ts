/**
 * How every service starts and stops: configuration validated first (every error printed, exit
 * code 2), then tracing, logs, metrics, NATS and Redis (retried with backoff: a service starts in
 * any order and reports /readyz false until its dependencies answer), then the service's own
 * start function. SIGTERM / SIGINT drain: readiness goes false, the service's shutdown hooks run
 * (newest first), NATS drains, Redis quits.
 */
import { hostname } from "node:os";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Redis } from "ioredis";
import type { FastifyInstance } from "fastify";
import { ConfigError, configPathFrom, loadConfigFile, type GatewayConfig } from "@passerelle/config";
import { Counter, createLogger, createMetricsRegistry, initTracing, shutdownTracing, type Logger, type Registry } from "@passerelle/telemetry";
import { Bus } from "./bus.ts";
import { createHttpServer, type ReadinessCheck } from "./http.ts";

export type ServiceName = "edge-listener" | "dialback-authority" | "policy" | "sip-translator" | "dns-registrar";

const httpKey: Record<ServiceName, keyof GatewayConfig["services"]> = {
  "edge-listener": "edgeListener",
  "dialback-authority": "dialbackAuthority",
  policy: "policy",
  "sip-translator": "sipTranslator",
  "dns-registrar": "dnsRegistrar",
};

export interface ServiceContext {
  name: ServiceName;
  /** Unique per process: hostname (the pod name in Kubernetes) and pid. */
  replicaId: string;
  config: GatewayConfig;
  log: Logger;
  metrics: Registry;
  nats: NatsConnection;
  bus: Bus;
  redis: Redis;
  http: FastifyInstance;
  onShutdown(hook: () => Promise<void> | void): void;
  addReadinessCheck(name: string, check: ReadinessCheck): void;
}

export interface ServiceDefinition {
  name: ServiceName;
  /** Whether the service needs Redis (all do today; kept explicit for tests). */
  redis?: boolean;
  /**
   * Register HTTP routes. Runs before the HTTP server listens (fastify cannot add routes later);
   * `ready` resolves once NATS and Redis are connected and `start` has run.
   */
  routes?(app: FastifyInstance, setup: { config: GatewayConfig; log: Logger; metrics: Registry; ready: Promise<ServiceContext> }): void;
  start(ctx: ServiceContext): Promise<void>;
}

/** Load the configuration or exit with every problem printed. */
export function loadConfigOrExit(argv = process.argv.slice(2), env = process.env): GatewayConfig {
  const path = configPathFrom(argv, env);
  if (path === undefined) {
    process.stderr.write("passerelle: no configuration: pass --config PATH or set PASSERELLE_CONFIG\n");
    process.exit(2);
  }
  try {
    return loadConfigFile(path);
  } catch (err) {
    process.stderr.write(`${err instanceof ConfigError ? err.message : String(err)}\n`);
    process.exit(2);
  }
}

export async function connectNats(url: string, name: string, log: Logger): Promise<NatsConnection> {
  const nc = await connect({
    servers: url.split(","),
    name,
    // Keep trying on the first connect too: services start in any order.
    waitOnFirstConnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    maxPingOut: 3,
    pingInterval: 10_000,
    // No Error object (stack capture) built ahead of every request/publish: a measurable share
    // of policy's CPU per stanza in bench/inbound.ts. Errors still say what failed, without the caller's stack.
    noAsyncTraces: true,
  });
  if (process.env.PASSERELLE_NATS_COALESCE !== "0") coalesceWrites(nc);
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === "disconnect" || status.type === "error") log.warn({ nats: status.type }, "NATS connection trouble");
      else if (status.type === "reconnect") log.info("NATS reconnected");
    }
  })();
  return nc;
}

interface NatsProtocolInternals {
  flushPending(): void;
  close(err?: Error): Promise<void>;
  outbound?: { size(): number };
  pendingLimit?: number;
}

/**
 * Everything a service writes to NATS during one turn of the event loop leaves in one socket
 * write. The NATS client flushes at the end of each microtask checkpoint, so a burst of stanzas
 * (acks, requests, replies) became one write syscall per few messages — the largest single cost
 * in policy's profile. Here the flush waits for `setImmediate` (the same loop iteration, after the
 * I/O callbacks), except when the buffer is already at the client's flush threshold; `close`
 * writes what is pending first. Relies on the client's internals (@nats-io/nats-core 3.x
 * `protocol.flushPending`); without them it does nothing.
 */
export function coalesceWrites(nc: NatsConnection): boolean {
  const protocol = (nc as unknown as { protocol?: NatsProtocolInternals }).protocol;
  if (protocol === undefined || typeof protocol.flushPending !== "function" || typeof protocol.close !== "function") return false;
  const flushNow = protocol.flushPending.bind(protocol);
  const close = protocol.close.bind(protocol);
  let scheduled = false;
  const flushLater = () => {
    scheduled = false;
    flushNow();
  };
  protocol.flushPending = () => {
    if (protocol.outbound !== undefined && protocol.pendingLimit !== undefined && protocol.outbound.size() >= protocol.pendingLimit) {
      flushNow();
      return;
    }
    if (scheduled) return;
    scheduled = true;
    setImmediate(flushLater);
  };
  protocol.close = (err?: Error) => {
    flushNow();
    return close(err);
  };
  return true;
}

export function connectRedis(url: string, log: Logger): Redis {
  const redis = new Redis(url, {
    lazyConnect: false,
    // Commands issued in the same tick share one write: fewer syscalls per stanza under load.
    enableAutoPipelining: true,
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 6), 5000),
  });
  let lastError = "";
  redis.on("error", (err: Error) => {
    if (err.message !== lastError) log.warn({ err: err.message }, "Redis connection trouble");
    lastError = err.message;
  });
  redis.on("ready", () => {
    lastError = "";
  });
  return redis;
}

export async function runService(definition: ServiceDefinition, config = loadConfigOrExit()): Promise<ServiceContext> {
  const name = definition.name;
  try {
    initTracing(name);
  } catch (err) {
    process.stderr.write(`passerelle: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const log = createLogger(name);
  for (const warning of config.warnings) log.warn(warning);
  const metrics = createMetricsRegistry(name);
  const crashes = new Counter({
    name: "passerelle_unhandled_errors_total",
    help: "Errors that reached the process's last-resort handlers (a bug: each is logged)",
    registers: [metrics],
  });
  // Nothing crashes a process: a bug that escapes is logged and counted, and the process goes on.
  process.on("uncaughtException", (err) => {
    crashes.inc();
    log.error({ err }, "uncaught exception");
  });
  process.on("unhandledRejection", (reason) => {
    crashes.inc();
    log.error({ err: reason }, "unhandled promise rejection");
  });

  const checks = new Map<string, ReadinessCheck>();
  const hooks: (() => Promise<void> | void)[] = [];
  let draining = false;
  const http = createHttpServer(metrics, checks, () => draining);
  let markReady: (ctx: ServiceContext) => void = () => undefined;
  const ready = new Promise<ServiceContext>((resolve) => (markReady = resolve));
  definition.routes?.(http, { config, log, metrics, ready });
  const listen = config.services[httpKey[name]].http;
  const port = Number(process.env.PASSERELLE_HTTP_PORT ?? listen.port);
  await http.listen({ host: process.env.PASSERELLE_HTTP_HOST ?? listen.host, port });

  const replicaId = `${process.env.POD_NAME ?? hostname()}-${process.pid}`;
  log.info({ http: `${listen.host}:${port}`, nats: config.nats.url, redis: config.redis.url }, "starting");
  const redis = connectRedis(config.redis.url, log);
  checks.set("redis", () => redis.status === "ready");
  const nats = await connectNats(config.nats.url, `${name}/${replicaId}`, log);
  checks.set("nats", () => !nats.isClosed() && !nats.isDraining());
  const bus = new Bus({ nats, log, metrics });

  const ctx: ServiceContext = {
    name,
    replicaId,
    config,
    log,
    metrics,
    nats,
    bus,
    redis,
    http,
    onShutdown: (hook) => hooks.push(hook),
    addReadinessCheck: (checkName, check) => checks.set(checkName, check),
  };

  let stopping: Promise<void> | undefined;
  const stop = (signal: string) => {
    stopping ??= (async () => {
      draining = true;
      log.info({ signal }, "draining");
      for (const hook of hooks.reverse()) {
        try {
          await hook();
        } catch (err) {
          log.error({ err }, "shutdown hook failed");
        }
      }
      await nats.drain().catch(() => undefined);
      await redis.quit().catch(() => undefined);
      await http.close().catch(() => undefined);
      await shutdownTracing().catch(() => undefined);
      log.info("stopped");
      process.exit(0);
    })();
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));

  // Not ready until the service's own start has run (e.g. the edge listens only at its end).
  let started = false;
  checks.set("started", () => started);
  await definition.start(ctx);
  started = true;
  markReady(ctx);
  log.info("started");
  return ctx;
}
