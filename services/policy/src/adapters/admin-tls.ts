/**
 * The admin REST API over TLS (services.policy.adminTls): the same routes as on the plain HTTP
 * port, on a second fastify instance whose callers authenticate with a client certificate signed
 * by clientCaFile (actor: the certificate's subject CN). /healthz, /readyz and /metrics stay on the
 * plain port. The certificate files are read again every `reloadMs`: a renewed certificate (e.g.
 * a Secret cert-manager rewrites) is served to new connections without a restart.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import type { Server as HttpsServer } from "node:https";
import type { TLSSocket } from "node:tls";
import Fastify, { type FastifyInstance } from "fastify";
import type { Counter, Logger, Registry } from "@passerelle/telemetry";
import { AdminError } from "./partner-admin.ts";

export interface AdminTlsSettings {
  host: string;
  port: number;
  certFile: string;
  keyFile: string;
  clientCaFile: string;
  /** true: the handshake refuses a client without a certificate signed by clientCaFile. */
  requireClientCert: boolean;
}

export interface AdminTlsListener {
  app: FastifyInstance;
  /** "host:port" actually bound. */
  address: string;
  /** Read the files again now; true when they changed and were applied. */
  reload(): boolean;
  close(): Promise<void>;
}

/** An actor name, as for bearer tokens (environment.ts): what the audit log records. */
const ACTOR = /^[A-Za-z0-9._@-]{1,64}$/;
/** The largest certificate or key file read. */
const MAX_FILE_BYTES = 256 * 1024;

interface TlsFiles {
  cert: Buffer;
  key: Buffer;
  ca: Buffer;
  digest: string;
}

function readFiles(settings: AdminTlsSettings): TlsFiles {
  const read = (path: string, what: string): Buffer => {
    let data: Buffer;
    try {
      data = readFileSync(path);
    } catch (err) {
      throw new Error(`services.policy.adminTls.${what} ${path}: ${(err as Error).message}`, { cause: err });
    }
    if (data.length === 0 || data.length > MAX_FILE_BYTES) throw new Error(`services.policy.adminTls.${what} ${path}: expected 1 byte to ${MAX_FILE_BYTES / 1024} KiB of PEM, got ${data.length} bytes`);
    return data;
  };
  const cert = read(settings.certFile, "certFile");
  const key = read(settings.keyFile, "keyFile");
  const ca = read(settings.clientCaFile, "clientCaFile");
  const digest = createHash("sha256").update(cert).update("\0").update(key).update("\0").update(ca).digest("hex");
  return { cert, key, ca, digest };
}

/**
 * The actor a TLS connection's client certificate names, when the certificate was verified
 * against the client CA; undefined when the connection has no verified certificate. Throws
 * AdminError 403 for a verified certificate whose subject CN cannot be an audit actor.
 */
export function certificateActor(socket: TLSSocket): string | undefined {
  if (!socket.authorized) return undefined;
  return actorOfCertificate(socket.getPeerCertificate());
}

/** The audit actor a verified certificate names: its subject CN (AdminError 403 when it cannot be one). Shared with the gRPC API. */
export function actorOfCertificate(cert: { subject?: { CN?: unknown } }): string {
  const cn: unknown = cert.subject?.CN;
  if (typeof cn !== "string" || !ACTOR.test(cn)) {
    throw new AdminError(403, "bad-client-certificate", "the client certificate's subject CN must be one name of 1-64 letters, digits or . _ @ - (it becomes the audit actor)");
  }
  return cn;
}

/**
 * Build the TLS app, let `register` add the admin routes (setupAdminHttp with clientCertificates),
 * and listen. Throws, naming the file, when a certificate file cannot be read or TLS refuses it.
 */
export async function startAdminTls(options: {
  settings: AdminTlsSettings;
  log: Logger;
  register(app: FastifyInstance): void;
  /** Where setupAdminHttp's requests counter is: refused handshakes count there too (code "tls-handshake"). */
  metrics?: Registry;
  reloadMs?: number;
}): Promise<AdminTlsListener> {
  const { settings, log } = options;
  let files = readFiles(settings);
  const app = Fastify({
    logger: false,
    bodyLimit: 1024 * 1024,
    https: {
      cert: files.cert,
      key: files.key,
      ca: files.ca,
      // The client CA only: no public CA can mint an admin.
      requestCert: true,
      rejectUnauthorized: settings.requireClientCert,
      minVersion: "TLSv1.2",
    },
  });
  options.register(app);
  const requests = options.metrics?.getSingleMetric("passerelle_policy_admin_requests_total") as Counter<"outcome" | "code"> | undefined;
  await app.listen({ host: settings.host, port: settings.port });
  const bound = app.server.address() as AddressInfo;
  const server = app.server as unknown as HttpsServer;
  // A client without a certificate from the client CA (or not speaking TLS) never reaches HTTP.
  server.on("tlsClientError", (err: Error & { code?: string }, socket) => {
    requests?.inc({ outcome: "refused", code: "tls-handshake" });
    log.info({ remote: socket.remoteAddress, reason: err.code ?? err.message }, "admin TLS handshake refused");
  });

  const reload = (): boolean => {
    let next: TlsFiles;
    try {
      next = readFiles(settings);
    } catch (err) {
      log.error({ err }, "admin TLS files unreadable; the previous certificate stays in use");
      return false;
    }
    if (next.digest === files.digest) return false;
    try {
      server.setSecureContext({ cert: next.cert, key: next.key, ca: next.ca, minVersion: "TLSv1.2" });
    } catch (err) {
      log.error({ err }, "admin TLS files refused (certificate and key do not match, or bad PEM); the previous certificate stays in use");
      return false;
    }
    files = next;
    log.info({ certFile: settings.certFile }, "admin TLS certificate reloaded");
    return true;
  };
  const timer = setInterval(reload, options.reloadMs ?? 60_000);
  timer.unref();
  log.info({ adminTls: `${bound.address}:${bound.port}`, requireClientCert: settings.requireClientCert }, "admin API listening over TLS (client certificates)");
  return {
    app,
    address: `${bound.address}:${bound.port}`,
    reload,
    close: async () => {
      clearInterval(timer);
      await app.close();
    },
  };
}
