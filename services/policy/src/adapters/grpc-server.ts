/**
 * The partner administration gRPC API (proto/passerelle/admin/v1/partners.proto), loaded at run
 * time with @grpc/proto-loader (no generated code). Same PartnerAdmin, store and audit log as the
 * REST routes; `authorization: Bearer <token>` metadata; AdminError mapped to gRPC status codes.
 *
 * With `tls` (the admin TLS settings, services.policy.adminTls) the listener is TLS with the same
 * certificate, re-read from its files every minute (no restart); with `requireClientCert` a caller
 * must present a certificate signed by clientCaFile and is the audit actor its subject CN names
 * (a bearer token, when also sent, is not needed); without it, bearer tokens over TLS.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import type { PartnerConfig } from "@passerelle/config";
import type { Logger } from "@passerelle/telemetry";
import type { AdminToken, AdminTokenList } from "../environment.ts";
import { AdminAuth } from "./admin-auth.ts";
import { actorOfCertificate } from "./admin-tls.ts";
import { AdminError, type PartnerAdmin } from "./partner-admin.ts";

export const PROTO_FILE = fileURLToPath(new URL("../../../../proto/passerelle/admin/v1/partners.proto", import.meta.url));

/** How the messages look in JavaScript (proto-loader: camelCase, unset fields absent). */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = { keepCase: false, longs: Number, enums: String, defaults: false, arrays: true, oneofs: false };

/** Largest message accepted (an import of a few thousand partners). */
const MAX_MESSAGE_BYTES = 2 * 1024 * 1024;

export function loadAdminService(): grpc.ServiceDefinition {
  const definition = protoLoader.loadSync(PROTO_FILE, PROTO_LOADER_OPTIONS);
  const pkg = grpc.loadPackageDefinition(definition) as unknown as { passerelle: { admin: { v1: { PartnerAdmin: grpc.ServiceClientConstructor } } } };
  return pkg.passerelle.admin.v1.PartnerAdmin.service;
}

/** The client constructor (tests, the CLI). */
export function adminClientConstructor(): grpc.ServiceClientConstructor {
  const definition = protoLoader.loadSync(PROTO_FILE, PROTO_LOADER_OPTIONS);
  const pkg = grpc.loadPackageDefinition(definition) as unknown as { passerelle: { admin: { v1: { PartnerAdmin: grpc.ServiceClientConstructor } } } };
  return pkg.passerelle.admin.v1.PartnerAdmin;
}

const statusOf: Record<number, grpc.status> = {
  400: grpc.status.INVALID_ARGUMENT,
  401: grpc.status.UNAUTHENTICATED,
  404: grpc.status.NOT_FOUND,
  409: grpc.status.ALREADY_EXISTS,
  413: grpc.status.RESOURCE_EXHAUSTED,
  415: grpc.status.INVALID_ARGUMENT,
  503: grpc.status.UNAVAILABLE,
};

interface PartnerInputMessage {
  domain?: string;
  description?: string;
  additionalDomains?: string[];
  type?: string;
  tls?: string;
  sasl?: string;
  dialback?: boolean;
  connectionLimit?: number;
  keepalive?: boolean;
  proxyFqdn?: string;
  proxyPort?: number;
  clearAdditionalDomains?: boolean;
  clearProxyFqdn?: boolean;
}

/** A PartnerInput message as the REST body would carry it (absent fields stay absent). */
export function partnerInputToJson(m: PartnerInputMessage, forUpdate: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of ["domain", "description", "type", "tls", "sasl", "dialback", "connectionLimit", "keepalive", "proxyFqdn", "proxyPort"] as const) {
    const v = m[key];
    if (v !== undefined && !(key === "domain" && v === "")) out[key] = v;
  }
  if ((m.additionalDomains?.length ?? 0) > 0 || m.clearAdditionalDomains === true) out.additionalDomains = m.clearAdditionalDomains === true ? [] : m.additionalDomains;
  if (m.clearProxyFqdn === true) out.proxyFqdn = forUpdate ? null : undefined;
  return out;
}

function partnerMessage(p: PartnerConfig): Record<string, unknown> {
  return { ...p, proxyFqdn: p.proxyFqdn ?? "" };
}

export interface AdminGrpcTls {
  certFile: string;
  keyFile: string;
  clientCaFile: string;
  requireClientCert: boolean;
}

/** How often the TLS files are re-read. */
const TLS_REFRESH_MS = 60_000;

export interface AdminGrpcOptions {
  host: string;
  port: number;
  /** TLS (and client certificates) as the admin TLS listener has them; plaintext without. */
  tls?: AdminGrpcTls;
  tokens: readonly AdminToken[] | AdminTokenList;
  admin: PartnerAdmin;
  log: Logger;
}

export interface AdminGrpcServer {
  port: number;
  close(): Promise<void>;
}

export async function startAdminGrpc(o: AdminGrpcOptions): Promise<AdminGrpcServer> {
  const auth = new AdminAuth(o.tokens);
  const server = new grpc.Server({ "grpc.max_receive_message_length": MAX_MESSAGE_BYTES, "grpc.max_send_message_length": MAX_MESSAGE_BYTES });

  // One wrapper for every method: authenticate, run, map errors.
  const unary =
    <Req, Res>(name: string, work: (actor: string, request: Req) => Promise<Res>): grpc.handleUnaryCall<Req, Res> =>
    (call, callback) => {
      void (async () => {
        let actor: string;
        try {
          const fromCertificate = o.tls?.requireClientCert === true ? certificateActor(call) : undefined;
          const header = call.metadata.get("authorization")[0];
          actor = fromCertificate ?? auth.actorFor(typeof header === "string" ? header : undefined);
        } catch (err) {
          const e = err as AdminError;
          o.log.info({ method: name, reason: e.message }, "admin gRPC call refused");
          return callback({ code: statusOf[e.status] ?? grpc.status.UNAUTHENTICATED, details: `${e.code}: ${e.message}` });
        }
        try {
          callback(null, await work(actor, call.request));
        } catch (err) {
          if (err instanceof AdminError) {
            o.log.info({ method: name, status: err.status, reason: err.message }, "admin gRPC call refused");
            const trailer = new grpc.Metadata();
            if (typeof err.extra.row === "string") trailer.set("x-passerelle-row", err.extra.row);
            const problems = Array.isArray(err.extra.problems) ? `: ${(err.extra.problems as string[]).join("; ")}` : "";
            const code = err.code === "conflict" ? grpc.status.ABORTED : (statusOf[err.status] ?? grpc.status.UNKNOWN);
            return callback({ code, details: `${err.code}: ${err.message}${problems}`, metadata: trailer });
          }
          o.log.error({ err, method: name }, "admin gRPC call failed");
          callback({ code: grpc.status.INTERNAL, details: "internal: the call failed; see the policy service's log" });
        }
      })();
    };

  server.addService(loadAdminService(), {
    ListPartners: unary<object, object>("ListPartners", async () => {
      const { revision, partners } = await o.admin.list();
      return { revision, partners: partners.map(partnerMessage) };
    }),
    GetPartner: unary<{ domain?: string }, object>("GetPartner", async (_actor, r) => partnerMessage(await o.admin.get(r.domain ?? ""))),
    CreatePartner: unary<PartnerInputMessage, object>("CreatePartner", async (actor, r) => {
      const { partner, warnings, revision } = await o.admin.create(actor, partnerInputToJson(r, false));
      return { partner: partnerMessage(partner), warnings, revision };
    }),
    UpdatePartner: unary<{ domain?: string; changes?: PartnerInputMessage }, object>("UpdatePartner", async (actor, r) => {
      const { partner, warnings, revision } = await o.admin.update(actor, r.domain ?? "", partnerInputToJson(r.changes ?? {}, true));
      return { partner: partnerMessage(partner), warnings, revision };
    }),
    RemovePartner: unary<{ domain?: string }, object>("RemovePartner", async (actor, r) => o.admin.remove(actor, r.domain ?? "")),
    Export: unary<object, object>("Export", async () => ({ yaml: await o.admin.exportYaml() })),
    Import: unary<{ yaml?: string; dryRun?: boolean }, object>("Import", async (actor, r) => {
      const { revision: _revision, ...result } = await o.admin.importYaml(actor, r.yaml ?? "", r.dryRun === true);
      return result;
    }),
    ListAudit: unary<{ limit?: number }, object>("ListAudit", async (_actor, r) => {
      const limit = r.limit === undefined || r.limit === 0 ? 100 : r.limit;
      if (limit > 1000) throw new AdminError(400, "bad-query", "limit is a number from 1 to 1000");
      const entries = await o.admin.audit(limit);
      return { entries: entries.map((e) => ({ id: e.id, at: e.at, actor: e.actor, action: e.action, target: e.target, beforeJson: JSON.stringify(e.before), afterJson: JSON.stringify(e.after) })) };
    }),
  });

  const credentials = await credentialsFor(o.tls);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${o.host.includes(":") ? `[${o.host}]` : o.host}:${o.port}`, credentials, (err, bound) => (err === null ? resolve(bound) : reject(err))),
  );
  o.log.info({ grpc: `${o.host}:${port}`, tls: o.tls === undefined ? "off" : o.tls.requireClientCert ? "client certificates" : "bearer tokens over TLS" }, "admin gRPC API listening");
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.forceShutdown(), 3000);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}

async function credentialsFor(tls: AdminGrpcTls | undefined): Promise<grpc.ServerCredentials> {
  if (tls === undefined) return grpc.ServerCredentials.createInsecure();
  // Read before binding, so a missing or unreadable file stops the start with its name.
  for (const [name, file] of [["certFile", tls.certFile], ["keyFile", tls.keyFile], ["clientCaFile", tls.clientCaFile]] as const) {
    try {
      readFileSync(file);
    } catch (err) {
      throw new Error(`services.policy.adminTls.${name}: cannot read ${file}: ${(err as Error).message}`);
    }
  }
  // grpc-js's file-watching providers re-read the files: a renewed certificate needs no restart.
  const ca = new grpc.experimental.FileWatcherCertificateProvider({ caCertificateFile: tls.clientCaFile, refreshIntervalMs: TLS_REFRESH_MS });
  const identity = new grpc.experimental.FileWatcherCertificateProvider({ certificateFile: tls.certFile, privateKeyFile: tls.keyFile, refreshIntervalMs: TLS_REFRESH_MS });
  // They read asynchronously: until both have, the listener would hand out no certificate. Wait (bounded).
  await Promise.all([
    firstUpdate((listener) => ca.addCaCertificateListener(listener), (listener) => ca.removeCaCertificateListener(listener), "clientCaFile"),
    firstUpdate((listener) => identity.addIdentityCertificateListener(listener), (listener) => identity.removeIdentityCertificateListener(listener), "certFile/keyFile"),
  ]);
  // grpc-js 1.14 declares (caProvider, identityProvider, …) but hands its arguments to a constructor
  // taking (identity, ca, …): the identity provider goes first. grpc-tls.test.ts fails if that changes.
  return grpc.experimental.createCertificateProviderServerCredentials(identity, ca, tls.requireClientCert);
}

/** Resolves once a provider has delivered its first certificate update; rejects after 10 s or on an empty one. */
function firstUpdate(add: (listener: (update: unknown) => void) => void, remove: (listener: (update: unknown) => void) => void, what: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      remove(listener);
      reject(new Error(`services.policy.adminTls: ${what} not loaded within 10 s`));
    }, 10_000);
    const listener = (update: unknown) => {
      clearTimeout(timer);
      // Removed on the next turn: the provider is iterating its listeners now.
      setImmediate(() => remove(listener));
      if (update === null) reject(new Error(`services.policy.adminTls: ${what} could not be loaded`));
      else resolve();
    };
    add(listener);
  });
}

/** The actor a verified client certificate names (its subject CN), or undefined without one. */
function certificateActor(call: { getAuthContext(): { sslPeerCertificate?: { subject?: { CN?: unknown } } } }): string | undefined {
  const certificate = call.getAuthContext().sslPeerCertificate;
  return certificate === undefined ? undefined : actorOfCertificate(certificate);
}
