/**
 * Admin API for partners, live settings, export/import and the audit log (the contract:
 * services/policy/README.md; authentication and errors: admin-http.ts).
 */
import type { FastifyInstance } from "fastify";
import type { AdminHttp } from "./admin-http.ts";
import { MAX_IMPORT_BYTES } from "./admin-http.ts";
import { AdminError, type PartnerAdmin } from "./partner-admin.ts";

export interface PartnerRoutesOptions {
  http: AdminHttp;
  /** The partner administration, once the service is connected (503 before). */
  admin(): PartnerAdmin;
}

/** A partner entry is small: its description is at most 1 KiB, its domains a few hundred bytes each. */
const PARTNER_BODY = 64 * 1024;

export function registerPartnerRoutes(app: FastifyInstance, options: PartnerRoutesOptions): void {
  const { http, admin } = options;
  type DomainParams = { domain: string };

  app.get(
    "/v1/partners",
    http.handle(async () => admin().list()),
  );

  app.get(
    "/v1/partners/:domain",
    http.handle<DomainParams>(async (request) => admin().get(request.params.domain)),
  );

  app.post(
    "/v1/partners",
    { bodyLimit: PARTNER_BODY },
    http.handle(async (request, reply) => {
      const { partner, warnings } = await admin().create(http.actorOf(request), request.body);
      return reply.code(201).send({ partner, warnings });
    }),
  );

  app.patch(
    "/v1/partners/:domain",
    { bodyLimit: PARTNER_BODY },
    http.handle<DomainParams>(async (request) => {
      const { partner, warnings } = await admin().update(http.actorOf(request), request.params.domain, request.body);
      return { partner, warnings };
    }),
  );

  app.delete(
    "/v1/partners/:domain",
    { bodyLimit: PARTNER_BODY },
    http.handle<DomainParams>(async (request, reply) => {
      await admin().remove(http.actorOf(request), request.params.domain);
      return reply.code(204).send();
    }),
  );

  app.get(
    "/v1/settings",
    http.handle(async () => admin().settings()),
  );

  app.patch(
    "/v1/settings",
    { bodyLimit: PARTNER_BODY },
    http.handle(async (request) => {
      const { revision: _revision, ...settings } = await admin().updateSettings(http.actorOf(request), request.body);
      return settings;
    }),
  );

  app.get(
    "/v1/export",
    http.handle(async (_request, reply) => reply.header("content-type", "text/yaml; charset=utf-8").send(await admin().exportYaml())),
  );

  app.post(
    "/v1/import",
    { bodyLimit: MAX_IMPORT_BYTES },
    http.handle<unknown, { dryRun?: string }>(async (request) => {
      const dryRunParam = request.query.dryRun;
      if (dryRunParam !== undefined && dryRunParam !== "true" && dryRunParam !== "false") throw new AdminError(400, "bad-query", "dryRun is true or false");
      if (typeof request.body !== "string") throw new AdminError(415, "unsupported-media-type", "send the YAML document with Content-Type: text/yaml");
      const { revision: _revision, dryRun: _dry, ...result } = await admin().importYaml(http.actorOf(request), request.body, dryRunParam === "true");
      return result;
    }),
  );

  app.get(
    "/v1/audit",
    http.handle<unknown, { limit?: string }>(async (request) => {
      const raw = request.query.limit ?? "100";
      if (!/^\d{1,4}$/.test(raw) || Number(raw) < 1 || Number(raw) > 1000) throw new AdminError(400, "bad-query", "limit is a number from 1 to 1000");
      return { entries: await admin().audit(Number(raw)) };
    }),
  );
}
