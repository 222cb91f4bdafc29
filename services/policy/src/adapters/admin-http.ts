/**
 * What every admin route shares: bearer-token authentication before anything is read (the body
 * is not even parsed for a request without credentials), JSON errors `{ error, reason, ... }` for
 * every failure fastify itself detects (bad JSON, too large, wrong content type, unknown route),
 * a YAML body parser for imports, and the list of routes (checked against the OpenAPI document).
 */
import type { TLSSocket } from "node:tls";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { Counter, type Logger, type Registry } from "@passerelle/telemetry";
import type { AdminToken, AdminTokenList } from "../environment.ts";
import { AdminAuth } from "./admin-auth.ts";
import { certificateActor } from "./admin-tls.ts";
import { AdminError } from "./partner-admin.ts";

export interface AdminHttpOptions {
  tokens: readonly AdminToken[] | AdminTokenList;
  log: Logger;
  /** Where to count admin requests by outcome and error code. */
  metrics?: Registry;
  /**
   * On the TLS listener (admin-tls.ts): a verified client certificate authenticates (actor: its
   * subject CN). "required": nothing else does; "or-bearer": without one, a bearer token may.
   */
  clientCertificates?: "required" | "or-bearer";
}

export interface AdminHttp {
  /** The authenticated actor of a /v1 request. */
  actorOf(request: FastifyRequest): string;
  /** Wrap a route handler: AdminError → its status and JSON body; anything else → 500 with a log line. */
  handle<P, Q = Record<string, string | undefined>>(work: (request: FastifyRequest & { params: P; query: Q }, reply: FastifyReply) => Promise<unknown>): (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
  /** Every route registered on the app: "METHOD /path" (fastify's `:param` syntax). */
  routes: { method: string; url: string }[];
}

export const YAML_TYPES = ["text/yaml", "application/yaml", "application/x-yaml"];
/** Largest YAML import body. */
export const MAX_IMPORT_BYTES = 1024 * 1024;

export function setupAdminHttp(app: FastifyInstance, options: AdminHttpOptions): AdminHttp {
  const auth = new AdminAuth(options.tokens);
  // One counter for both listeners (plain and TLS) of a registry.
  const requests =
    options.metrics === undefined
      ? undefined
      : ((options.metrics.getSingleMetric("passerelle_policy_admin_requests_total") as Counter<"outcome" | "code"> | undefined) ??
        new Counter({ name: "passerelle_policy_admin_requests_total", help: "Admin API (REST) requests by outcome (ok, refused, error) and error code", labelNames: ["outcome", "code"], registers: [options.metrics] }));
  app.addHook("onResponse", async (request, reply) => {
    if (!(request.routeOptions.url ?? request.url).startsWith("/v1/")) return;
    const status = reply.statusCode;
    requests?.inc({ outcome: status < 400 ? "ok" : status >= 500 && status !== 503 ? "error" : "refused", code: status < 400 ? "" : String(status) });
  });
  const actors = new WeakMap<FastifyRequest, string>();
  const routes: { method: string; url: string }[] = [];

  app.addHook("onRoute", (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) if (method !== "HEAD") routes.push({ method, url: route.url });
  });

  const send = (reply: FastifyReply, err: AdminError) => reply.code(err.status).send({ error: err.code, reason: err.message, ...err.extra });

  // Authentication runs first, before the body is read or parsed.
  app.addHook("onRequest", async (request, reply) => {
    // By the matched route, not only the raw URL: a percent-encoded path ("/%76%31/…") routes the same.
    const route = request.routeOptions.url ?? "";
    if (!route.startsWith("/v1/") && !request.url.startsWith("/v1/") && request.url !== "/v1") return;
    try {
      if (options.clientCertificates !== undefined) {
        const socket = request.raw.socket as TLSSocket;
        const actor = certificateActor(socket);
        if (actor !== undefined) {
          actors.set(request, actor);
          return;
        }
        if (options.clientCertificates === "required") {
          const why = socket.authorizationError === undefined ? "" : ` (${String(socket.authorizationError)})`;
          throw new AdminError(401, "unauthorized", `a client certificate signed by the admin client CA is required${why}`);
        }
      }
      actors.set(request, auth.actorFor(request.headers.authorization));
    } catch (err) {
      const e = err as AdminError;
      options.log.info({ url: request.url, remote: request.ip, reason: e.message }, "admin request refused");
      return send(reply, e);
    }
  });

  app.addContentTypeParser(YAML_TYPES, { parseAs: "string", bodyLimit: MAX_IMPORT_BYTES }, (_request, body, done) => done(null, body));

  app.setNotFoundHandler((request, reply) => reply.code(404).send({ error: "not-found", reason: `no route ${request.method} ${request.url.split("?")[0] ?? ""}` }));
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, request, reply) => {
    if (err instanceof AdminError) return send(reply, err);
    const status = err.statusCode ?? 500;
    if (status === 413) return send(reply, new AdminError(413, "too-large", `the body is larger than this route accepts (${err.message})`));
    if (status === 415) return send(reply, new AdminError(415, "unsupported-media-type", `${request.headers["content-type"] ?? "no content type"} is not accepted here: send application/json (or text/yaml to /v1/import)`));
    if (status >= 400 && status < 500) return send(reply, new AdminError(status, "bad-body", err.message));
    options.log.error({ err, url: request.url }, "admin request failed");
    return send(reply, new AdminError(500, "internal", "the request failed; see the policy service's log"));
  });

  return {
    routes,
    actorOf(request) {
      const actor = actors.get(request);
      if (actor === undefined) throw new AdminError(401, "unauthorized", "not authenticated");
      return actor;
    },
    handle: (work) => async (request, reply) => {
      try {
        return await work(request as Parameters<typeof work>[0], reply);
      } catch (err) {
        if (err instanceof AdminError) {
          options.log.info({ status: err.status, url: request.url, reason: err.message }, "admin request refused");
          return send(reply, err);
        }
        options.log.error({ err, url: request.url }, "admin request failed");
        return send(reply, new AdminError(500, "internal", "the request failed; see the policy service's log"));
      }
    },
  };
}
