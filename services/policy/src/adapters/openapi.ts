/**
 * The OpenAPI 3.1 document of the policy service's HTTP routes, written by hand beside the routes
 * (openapi.test.ts checks that every registered route is in it and nothing else), served at
 * GET /openapi.json without authentication.
 */
import type { FastifyInstance } from "fastify";
import type { AdminHttp } from "./admin-http.ts";

const negotiation = { type: "string", enum: ["required", "optional", "not-supported"] };
const error = (description: string) => ({ description, content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } });
const json = (description: string, schema: object) => ({ description, content: { "application/json": { schema } } });
// Either scheme authenticates: a bearer token, or a client certificate on the admin TLS listener.
const secured = { security: [{ bearer: [] }, { clientCertificate: [] }] };
const common = {
  "401": error("no or wrong bearer token; nothing was read or written"),
  "503": error("admin-disabled (no token configured) or starting"),
};
const domainParam = { name: "domain", in: "path", required: true, schema: { type: "string" }, description: "the partner's primary or an additional domain" };
const userParam = { name: "user", in: "path", required: true, schema: { type: "string" }, description: "an internal user's bare JID" };
const contactParam = { name: "contact", in: "path", required: true, schema: { type: "string" }, description: "an XMPP contact's bare JID" };
const partnerChange = json("the entry as stored, and warnings", {
  type: "object",
  required: ["partner", "warnings"],
  properties: { partner: { $ref: "#/components/schemas/Partner" }, warnings: { type: "array", items: { type: "string" } } },
});

export const openApiDocument = {
  openapi: "3.1.0",
  info: {
    title: "Passerelle policy admin API",
    version: "1.0.0",
    description: "Partners, gateway-wide live settings, internal users' XMPP settings, export/import, audit log. Every change is audited and applied live by every replica.",
  },
  components: {
    securitySchemes: {
      bearer: { type: "http", scheme: "bearer", description: "PASSERELLE_ADMIN_TOKEN or a line of PASSERELLE_ADMIN_TOKENS_FILE" },
      clientCertificate: { type: "mutualTLS", description: "On the admin TLS listener (services.policy.adminTls): a client certificate signed by clientCaFile; the audit actor is its subject CN" },
    },
    schemas: {
      Error: {
        type: "object",
        required: ["error", "reason"],
        properties: {
          error: { type: "string", description: "stable code: unauthorized, admin-disabled, bad-body, invalid-combination, exists, not-found, invalid-import, too-large, ..." },
          reason: { type: "string" },
          row: { type: "string", description: "invalid-combination: the negotiation matrix row, e.g. 'TLS Not supported / SASL Required / dialback false'" },
          problems: { type: "array", items: { type: "string" }, description: "invalid-import: every problem" },
        },
      },
      Partner: {
        type: "object",
        required: ["domain", "description", "additionalDomains", "type", "tls", "sasl", "dialback", "connectionLimit", "keepalive", "proxyPort"],
        properties: {
          domain: { type: "string" },
          description: { type: "string", maxLength: 1024 },
          additionalDomains: { type: "array", items: { type: "string" } },
          type: { type: "string", enum: ["federated", "public-verified", "public-unverified"] },
          tls: negotiation,
          sasl: negotiation,
          dialback: { type: "boolean" },
          connectionLimit: { type: "integer", minimum: 1, maximum: 10000 },
          keepalive: { type: "boolean" },
          proxyFqdn: { type: "string" },
          proxyPort: { type: "integer", minimum: 1, maximum: 65535 },
        },
        additionalProperties: false,
      },
      PartnerInput: {
        type: "object",
        required: ["domain", "type"],
        description: "missing fields take Lync's defaults: tls required, sasl optional, dialback true, connectionLimit 20, keepalive true, proxyPort 5269",
        properties: {
          domain: { type: "string" },
          description: { type: "string" },
          additionalDomains: { type: "array", items: { type: "string" } },
          type: { type: "string", enum: ["federated", "public-verified", "public-unverified"] },
          tls: negotiation,
          sasl: negotiation,
          dialback: { type: "boolean" },
          connectionLimit: { type: "integer" },
          keepalive: { type: "boolean" },
          proxyFqdn: { type: "string" },
          proxyPort: { type: "integer" },
        },
        additionalProperties: false,
      },
      PartnerPatch: { type: "object", description: "fields to change (domain cannot change); null removes proxyFqdn", additionalProperties: true },
      Settings: { type: "object", required: ["xmppAccessDefault"], properties: { xmppAccessDefault: { type: "boolean" } }, additionalProperties: false },
      ImportResult: {
        type: "object",
        required: ["added", "changed", "removed", "warnings"],
        properties: {
          added: { type: "array", items: { type: "string" } },
          changed: { type: "array", items: { type: "string" } },
          removed: { type: "array", items: { type: "string" } },
          warnings: { type: "array", items: { type: "string" } },
        },
      },
      AuditEntry: {
        type: "object",
        required: ["id", "at", "actor", "action", "target", "before", "after"],
        properties: {
          id: { type: "string" },
          at: { type: "string", format: "date-time" },
          actor: { type: "string" },
          action: { type: "string", enum: ["partner.create", "partner.update", "partner.remove", "settings.update", "user.xmpp-access", "user.allow", "user.disallow", "import"] },
          target: { type: "string" },
          before: {},
          after: {},
        },
      },
    },
  },
  paths: {
    "/healthz": { get: { summary: "liveness", responses: { "200": json("alive", { type: "object" }) } } },
    "/readyz": { get: { summary: "readiness (NATS, Redis)", responses: { "200": json("ready", { type: "object" }), "503": json("not ready", { type: "object" }) } } },
    "/metrics": { get: { summary: "Prometheus metrics", responses: { "200": { description: "text exposition format", content: { "text/plain": {} } } } } },
    "/openapi.json": { get: { summary: "this document", responses: { "200": json("OpenAPI 3.1", { type: "object" }) } } },
    "/v1/partners": {
      get: { ...secured, summary: "list partners", responses: { "200": json("every entry", { type: "object", properties: { revision: { type: "integer" }, partners: { type: "array", items: { $ref: "#/components/schemas/Partner" } } } }), ...common } },
      post: {
        ...secured,
        summary: "create a partner",
        requestBody: { required: true, content: { "application/json": { schema: { $ref: "#/components/schemas/PartnerInput" } } } },
        responses: { "201": partnerChange, "400": error("bad-body, own-domain, or invalid-combination (with row)"), "409": error("exists: a domain already belongs to a partner"), "413": error("too-large"), ...common },
      },
    },
    "/v1/partners/{domain}": {
      get: { ...secured, summary: "one partner", parameters: [domainParam], responses: { "200": json("the entry", { $ref: "#/components/schemas/Partner" }), "404": error("not-found"), ...common } },
      patch: {
        ...secured,
        summary: "change a partner",
        parameters: [domainParam],
        requestBody: { required: true, content: { "application/json": { schema: { $ref: "#/components/schemas/PartnerPatch" } } } },
        responses: { "200": partnerChange, "400": error("bad-body or invalid-combination (with row)"), "404": error("not-found"), "409": error("exists"), ...common },
      },
      delete: { ...secured, summary: "remove a partner (its open connections close with policy-violation)", parameters: [domainParam], responses: { "204": { description: "removed" }, "404": error("not-found"), ...common } },
    },
    "/v1/settings": {
      get: { ...secured, summary: "gateway-wide live settings", responses: { "200": json("settings", { $ref: "#/components/schemas/Settings" }), ...common } },
      patch: {
        ...secured,
        summary: "change live settings",
        requestBody: { required: true, content: { "application/json": { schema: { type: "object" } } } },
        responses: { "200": json("settings", { $ref: "#/components/schemas/Settings" }), "400": error("bad-body"), ...common },
      },
    },
    "/v1/export": { get: { ...secured, summary: "every partner and the settings as YAML (the configuration file's shape)", responses: { "200": { description: "YAML", content: { "text/yaml": { schema: { type: "string" } } } }, ...common } } },
    "/v1/import": {
      post: {
        ...secured,
        summary: "replace every partner and the settings, atomically",
        parameters: [{ name: "dryRun", in: "query", required: false, schema: { type: "string", enum: ["true", "false"] } }],
        requestBody: { required: true, content: { "text/yaml": { schema: { type: "string" } } } },
        responses: { "200": json("what changed (or would change)", { $ref: "#/components/schemas/ImportResult" }), "400": error("bad-yaml, bad-import, invalid-import (problems listed); nothing changed"), "413": error("too-large"), "415": error("not text/yaml"), ...common },
      },
    },
    "/v1/audit": {
      get: {
        ...secured,
        summary: "audit log, newest first",
        parameters: [{ name: "limit", in: "query", required: false, schema: { type: "integer", minimum: 1, maximum: 1000, default: 100 } }],
        responses: { "200": json("entries", { type: "object", properties: { entries: { type: "array", items: { $ref: "#/components/schemas/AuditEntry" } } } }), "400": error("bad-query"), ...common },
      },
    },
    "/v1/users/{user}": {
      get: { ...secured, summary: "an internal user's XMPP settings", parameters: [userParam], responses: { "200": json("settings", { type: "object", properties: { user: { type: "string" }, xmppAccess: { type: "boolean" }, allowed: { type: "array", items: { type: "string" } } } }), "400": error("bad-user"), ...common } },
    },
    "/v1/users/{user}/xmpp-access": {
      put: {
        ...secured,
        summary: "set (true/false) or clear (null: the gateway default) the user's XMPP access",
        parameters: [userParam],
        requestBody: { required: true, content: { "application/json": { schema: { type: "object", required: ["allowed"], properties: { allowed: { type: ["boolean", "null"] } } } } } },
        responses: { "200": json("the effective access", { type: "object" }), "400": error("bad-user or bad-body"), ...common },
      },
    },
    "/v1/users/{user}/allowed/{contact}": {
      put: { ...secured, summary: "allow an XMPP contact", parameters: [userParam, contactParam], responses: { "200": json("already allowed", { type: "object" }), "201": json("allowed", { type: "object" }), "400": error("bad-user or bad-contact"), ...common } },
      delete: { ...secured, summary: "disallow an XMPP contact", parameters: [userParam, contactParam], responses: { "204": { description: "removed" }, "404": error("not-found"), ...common } },
    },
  },
} as const;

/** fastify's `/v1/partners/:domain` as OpenAPI's `/v1/partners/{domain}`. */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
}

export function registerOpenApi(app: FastifyInstance, _http: AdminHttp): void {
  app.get("/openapi.json", async (_request, reply) => reply.header("cache-control", "no-cache").send(openApiDocument));
}
