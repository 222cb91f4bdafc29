/**
 * The edge's certificate, reloaded without a restart: the files are polled, and a new secure
 * context is built when they change. New connections get the new certificate; open ones keep
 * theirs. A broken replacement is refused (logged and counted) and the previous one stays.
 */
import { readFileSync, statSync } from "node:fs";
import { X509Certificate } from "node:crypto";
import { createSecureContext, type SecureContext } from "node:tls";
import { Counter, Gauge, type Logger, type Registry } from "@passerelle/telemetry";

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  caFile?: string | undefined;
}

export class TlsContextStore {
  private current: SecureContext;
  private ca: string | undefined;
  private stamp: string;
  private timer: NodeJS.Timeout | undefined;
  private readonly reloads: Counter<"outcome">;
  private readonly expiry: Gauge;

  constructor(
    private readonly files: TlsFiles,
    private readonly log: Logger,
    metrics: Registry,
  ) {
    this.reloads = new Counter({ name: "passerelle_edge_certificate_reloads_total", help: "Certificate reloads by outcome", labelNames: ["outcome"], registers: [metrics] });
    this.expiry = new Gauge({ name: "passerelle_edge_certificate_expiry_seconds", help: "Seconds until the served certificate expires", registers: [metrics] });
    this.stamp = this.fileStamp();
    this.current = this.build();
  }

  get context(): SecureContext {
    return this.current;
  }

  /** The CA bundle partners' certificates are checked against (undefined: the system's). */
  get caBundle(): string | undefined {
    return this.ca;
  }

  /** Poll the files every `intervalMs`. */
  watch(intervalMs = 5000): void {
    this.timer = setInterval(() => this.reloadIfChanged(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
  }

  reloadIfChanged(): boolean {
    let stamp: string;
    try {
      stamp = this.fileStamp();
    } catch (err) {
      this.log.error({ err: (err as Error).message }, "certificate files unreadable; keeping the current certificate");
      this.reloads.inc({ outcome: "failed" });
      return false;
    }
    if (stamp === this.stamp) return false;
    try {
      this.current = this.build();
      this.stamp = stamp;
      this.reloads.inc({ outcome: "reloaded" });
      this.log.info({ certFile: this.files.certFile }, "certificate reloaded; new connections use it");
      return true;
    } catch (err) {
      this.stamp = stamp;
      this.reloads.inc({ outcome: "failed" });
      this.log.error({ err: (err as Error).message }, "new certificate refused; keeping the current one");
      return false;
    }
  }

  private fileStamp(): string {
    return [this.files.certFile, this.files.keyFile, this.files.caFile]
      .filter((f): f is string => f !== undefined)
      .map((f) => {
        const s = statSync(f);
        return `${f}:${s.mtimeMs}:${s.size}`;
      })
      .join("|");
  }

  private build(): SecureContext {
    const cert = readFileSync(this.files.certFile, "utf8");
    const key = readFileSync(this.files.keyFile, "utf8");
    const ca = this.files.caFile === undefined ? undefined : readFileSync(this.files.caFile, "utf8");
    // createSecureContext checks that the key matches the certificate.
    const context = createSecureContext({ cert, key, ...(ca === undefined ? {} : { ca }), minVersion: "TLSv1.2" });
    const leaf = new X509Certificate(cert);
    const seconds = (Date.parse(leaf.validTo) - Date.now()) / 1000;
    this.expiry.set(seconds);
    if (seconds < 14 * 86400) this.log.warn({ validTo: leaf.validTo }, "the edge certificate expires within 14 days");
    this.ca = ca;
    return context;
  }
}
