/**
 * The edge's certificate, reloaded without a restart: the files are polled, and a new secure
 * context is built when they change. New connections get the new certificate; open ones keep
 * theirs. A broken replacement is refused (logged and counted) and the previous one stays.
 * Days to expiry is a gauge, set on every load, with a warning below 30 days.
 */
import { readFileSync, statSync } from "node:fs";
import { constants as cryptoConstants, X509Certificate } from "node:crypto";
import { createSecureContext, type SecureContext } from "node:tls";
import { Counter, Gauge, type Logger, type Registry } from "@passerelle/telemetry";

/** Below this many days left, every load logs a warning (Let's Encrypt-style renewals start at 30). */
export const EXPIRY_WARNING_DAYS = 30;
const DAY_MS = 86_400_000;

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
  private readonly expiryDays: Gauge;
  /** The served certificate's end of validity and serial, and the day count last warned about. */
  private validTo = { ms: 0, text: "", serial: "" };
  private warnedDays: number | undefined;

  constructor(
    private readonly files: TlsFiles,
    private readonly log: Logger,
    metrics: Registry,
    /** The clock (tests move it). */
    private readonly now: () => number = Date.now,
  ) {
    this.reloads = new Counter({ name: "passerelle_edge_certificate_reloads_total", help: "Certificate reloads by outcome", labelNames: ["outcome"], registers: [metrics] });
    // Both gauges are recomputed at each scrape, so they count down between loads too.
    const msLeft = (): number => this.validTo.ms - this.now();
    this.expiry = new Gauge({
      name: "passerelle_edge_certificate_expiry_seconds",
      help: "Seconds until the served certificate expires",
      registers: [metrics],
      collect() {
        this.set(msLeft() / 1000);
      },
    });
    this.expiryDays = new Gauge({
      name: "passerelle_edge_certificate_expiry_days",
      help: "Whole days until the served certificate expires (negative: expired)",
      registers: [metrics],
      collect() {
        this.set(Math.floor(msLeft() / DAY_MS));
      },
    });
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

  /** Poll the files every `intervalMs` (and warn again each day the certificate gets closer to its end). */
  watch(intervalMs = 5000): void {
    this.timer = setInterval(() => {
      if (!this.reloadIfChanged()) this.checkExpiry(false);
    }, intervalMs);
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

  /**
   * Days to expiry into the gauges; a warning below 30 days, an error once expired — on every
   * load (`always`), else once per day count.
   */
  checkExpiry(always: boolean): void {
    const left = this.validTo.ms - this.now();
    const days = Math.floor(left / DAY_MS);
    this.expiry.set(left / 1000);
    this.expiryDays.set(days);
    if (!always && days === this.warnedDays) return;
    const fields = { validTo: this.validTo.text, daysLeft: days, serialNumber: this.validTo.serial };
    if (left <= 0) {
      this.warnedDays = days;
      this.log.error(fields, "the edge certificate has expired: partners will refuse it; assign a new one (passerelle cert import)");
    } else if (days < EXPIRY_WARNING_DAYS) {
      this.warnedDays = days;
      this.log.warn(fields, `the edge certificate expires in ${days} day(s); renew it (passerelle cert request, then cert import)`);
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
    // No session tickets: with TLS 1.3 each ticket copies the session, peer certificate chain
    // included, and OpenSSL keeps it for the connection's life — about 16 KiB per idle stream
    // (bench/idle-connections.ts). S2S peers keep their streams open for hours, so resumption
    // would save little; a reconnecting peer does a full handshake.
    const context = createSecureContext({
      cert,
      key,
      ...(ca === undefined ? {} : { ca }),
      minVersion: "TLSv1.2",
      secureOptions: cryptoConstants.SSL_OP_NO_TICKET,
    });
    const leaf = new X509Certificate(cert);
    this.validTo = { ms: Date.parse(leaf.validTo), text: leaf.validTo, serial: leaf.serialNumber };
    this.checkExpiry(true);
    this.ca = ca;
    return context;
  }
}
