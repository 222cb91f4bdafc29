/**
 * Outbound server-to-server links (RFC 6120 §3.2, §4): one authenticated stream per
 * (our domain, partner domain), opened on the first stanza, reused, kept alive as the partner
 * entry says, and closed when idle. Stanzas wait in a bounded queue while the link is set up and
 * leave in order; when it cannot be set up they are bounced (RFC 6120 §8.3.3.17–18) and the next
 * attempt waits (backoff).
 */
import { Resolver } from "node:dns";
import type { LookupFunction } from "node:net";
import { readFileSync } from "node:fs";
import { connectS2S, S2SError, type S2SConnection, type S2STarget } from "@passerelle/s2s";
import { streamNoLongerAllowed, type Partner } from "@passerelle/config";
import type { StanzaErrorInfo } from "@passerelle/contracts";
import { Counter, Gauge, type Logger, type Registry } from "@passerelle/telemetry";
import type { StreamParserLimits } from "@passerelle/xmpp";
import type { TlsContextStore } from "./tls-context.ts";

export interface OutboundPoolOptions {
  findPartner(domain: string): Partner | undefined;
  resolve(domain: string): Promise<S2STarget[]>;
  dialbackKey(req: { receiving: string; originating: string; streamId: string }): Promise<string>;
  /** A stanza that could not be sent: the caller tells its sender (never for error stanzas). */
  bounce(xml: string, localDomain: string, remoteDomain: string, error: StanzaErrorInfo): void;
  tls: TlsContextStore | undefined;
  tlsFiles: { certFile: string; keyFile: string; caFile?: string | undefined } | undefined;
  dnsServer: string | undefined;
  limits: StreamParserLimits;
  establishmentTimeoutMs: number;
  idleTimeoutMs: number;
  keepaliveIntervalMs: number;
  /** Gateway-wide limit on outbound links of this replica (its own bound, checked first). */
  connectionLimit: number;
  /**
   * Asked before a new link is opened: counts it against the partner's connection limit (and the
   * gateway's) across every replica. Returns why it may not be opened, or undefined. Each admitted
   * link is given back with released() once it is closed or could not be set up.
   */
  admit?(remoteDomain: string, linkId: string, partnerLimit: number): Promise<string | undefined>;
  released?(linkId: string): void;
  maxQueued: number;
  log: Logger;
  metrics: Registry;
}

/**
 * Told what became of one stanza, for callers that wait (outbound messaging answers SIP with it):
 * `sent` once written to an authenticated stream, `failed` instead of a bounce. A receipt whose
 * caller stopped waiting (`expired`) is not written any more.
 */
export interface SendReceipt {
  expired(): boolean;
  sent(): void;
  failed(error: StanzaErrorInfo): void;
}

interface QueuedStanza {
  xml: string;
  isError: boolean;
  receipt?: SendReceipt | undefined;
}

type LinkState = "connecting" | "up" | "backoff";

interface Link {
  key: string;
  localDomain: string;
  remoteDomain: string;
  state: LinkState;
  queue: QueuedStanza[];
  connection: S2SConnection | undefined;
  failures: number;
  retryAt: number;
  idle: NodeJS.Timeout | undefined;
  keepalive: NodeJS.Timeout | undefined;
}

export class OutboundPool {
  private readonly links = new Map<string, Link>();
  private readonly sent: Counter<"outcome">;
  private readonly connects: Counter<"outcome" | "method">;
  private readonly open: Gauge;
  private readonly lookup: LookupFunction | undefined;
  private attempts = 0;

  constructor(private readonly o: OutboundPoolOptions) {
    this.sent = new Counter({ name: "passerelle_edge_outbound_stanzas_total", help: "Outbound stanzas by outcome (sent, bounced, dropped, failed: reported to a waiting caller, expired: its caller stopped waiting)", labelNames: ["outcome"], registers: [o.metrics] });
    this.connects = new Counter({ name: "passerelle_edge_outbound_connects_total", help: "Outbound s2s connection attempts by outcome and authentication method", labelNames: ["outcome", "method"], registers: [o.metrics] });
    this.open = new Gauge({ name: "passerelle_edge_outbound_connections", help: "Open outbound s2s connections", registers: [o.metrics] });
    this.lookup = o.dnsServer === undefined ? undefined : resolverLookup(o.dnsServer);
  }

  /** Send one serialized stanza from `localDomain` to `remoteDomain`. */
  send(localDomain: string, remoteDomain: string, xml: string, type: string | undefined, receipt?: SendReceipt): void {
    const isError = type === "error";
    const key = `${localDomain}|${remoteDomain}`;
    let link = this.links.get(key);
    if (link !== undefined && link.state === "up" && (link.connection === undefined || link.connection.closed)) {
      // Closed but its close event not handled yet: start afresh rather than queue on a dead link.
      this.links.delete(key);
      link = undefined;
    }
    if (link === undefined) {
      if (this.links.size >= this.o.connectionLimit) {
        return this.fail({ xml, isError, receipt }, localDomain, remoteDomain, { type: "wait", condition: "resource-constraint", text: "the gateway has reached its outbound connection limit" });
      }
      link = { key, localDomain, remoteDomain, state: "connecting", queue: [], connection: undefined, failures: 0, retryAt: 0, idle: undefined, keepalive: undefined };
      this.links.set(key, link);
      this.queue(link, { xml, isError, receipt });
      void this.connect(link);
      return;
    }
    if (link.state === "up" && link.connection !== undefined && !link.connection.closed) {
      this.write(link, { xml, isError, receipt });
      return;
    }
    if (link.state === "backoff" && Date.now() >= link.retryAt) {
      link.state = "connecting";
      this.queue(link, { xml, isError, receipt });
      void this.connect(link);
      return;
    }
    if (link.state === "backoff") {
      return this.fail({ xml, isError, receipt }, localDomain, remoteDomain, { type: "wait", condition: "remote-server-timeout", text: `${remoteDomain} could not be reached recently; retrying later` });
    }
    this.queue(link, { xml, isError, receipt });
  }

  /**
   * Close, with a `policy-violation` stream error carrying the reason, every open outbound stream
   * for which `check` returns a reason (a partner removed, or its entry no longer allowing how the
   * stream was authenticated). The next stanza to that domain starts afresh under the new entry.
   */
  closeWhere(check: (domain: string, facts: { method: "sasl-external" | "dialback"; tls: boolean }) => string | undefined): number {
    let closed = 0;
    for (const link of [...this.links.values()]) {
      const connection = link.connection;
      if (link.state !== "up" || connection === undefined || connection.closed) continue;
      const reason = check(link.remoteDomain, { method: connection.authentication, tls: connection.tls !== undefined });
      if (reason === undefined) continue;
      this.o.log.info({ remote: link.remoteDomain, local: link.localDomain, reason }, "closing an outbound stream: the partner entry changed");
      this.links.delete(link.key);
      clearTimeout(link.idle);
      clearInterval(link.keepalive);
      connection.closeWithError("policy-violation", reason);
      closed++;
    }
    return closed;
  }

  async close(): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const link of this.links.values()) {
      clearTimeout(link.idle);
      clearInterval(link.keepalive);
      if (link.connection !== undefined) closing.push(link.connection.close(3000));
    }
    await Promise.allSettled(closing);
    this.links.clear();
  }

  private queue(link: Link, stanza: QueuedStanza): void {
    if (link.queue.length >= this.o.maxQueued) {
      return this.fail(stanza, link.localDomain, link.remoteDomain, { type: "wait", condition: "resource-constraint", text: "too many stanzas waiting for this server" });
    }
    link.queue.push(stanza);
  }

  private write(link: Link, stanza: QueuedStanza): void {
    if (stanza.receipt?.expired() === true) {
      this.sent.inc({ outcome: "expired" });
      return;
    }
    link.connection?.send(stanza.xml);
    this.sent.inc({ outcome: "sent" });
    stanza.receipt?.sent();
    this.touch(link);
  }

  private touch(link: Link): void {
    clearTimeout(link.idle);
    link.idle = setTimeout(() => {
      this.o.log.info({ remote: link.remoteDomain }, "closing an idle outbound stream");
      void link.connection?.close(3000);
    }, this.o.idleTimeoutMs);
    link.idle.unref();
  }

  private async connect(link: Link): Promise<void> {
    const partner = this.o.findPartner(link.remoteDomain);
    if (partner === undefined) {
      this.links.delete(link.key);
      return this.failQueue(link, { type: "cancel", condition: "remote-server-not-found", text: `${link.remoteDomain} is not a federated partner` });
    }
    // The partner's connection limit across the gateway (RFC 6120 §4.9.3.18 resource-constraint):
    // the link is not opened; its stanzas get a `wait` error, as when this replica's own limit is.
    const linkId = `out/${link.key}/${++this.attempts}`;
    const overLimit = this.o.admit === undefined ? undefined : await this.o.admit(link.remoteDomain, linkId, partner.connectionLimit);
    if (overLimit !== undefined) {
      this.connects.inc({ outcome: "limit", method: "none" });
      this.o.log.info({ remote: link.remoteDomain, local: link.localDomain, reason: overLimit }, "outbound s2s stream not opened: connection limit");
      if (this.links.get(link.key) === link) this.links.delete(link.key);
      return this.failQueue(link, { type: "wait", condition: "resource-constraint", text: overLimit });
    }
    const released = (): void => this.o.released?.(linkId);
    let connection: S2SConnection;
    try {
      const targets = await this.o.resolve(link.remoteDomain);
      const material = this.tlsMaterial();
      connection = await connectS2S({
        localDomain: link.localDomain,
        remoteDomain: link.remoteDomain,
        targets,
        tls: partner.tls,
        sasl: partner.sasl,
        dialback: partner.dialback,
        ...(material === undefined ? {} : { tlsMaterial: material }),
        // Dialback may run over TLS whose certificate we cannot verify; SASL EXTERNAL may not.
        certificate: partner.dialback ? "report" : "require",
        timeouts: { connectMs: Math.min(10_000, this.o.establishmentTimeoutMs), establishmentMs: this.o.establishmentTimeoutMs },
        limits: this.o.limits,
        ...(this.lookup === undefined ? {} : { lookup: this.lookup }),
        dialbackKey: (ctx) => this.o.dialbackKey(ctx),
      });
    } catch (err) {
      const e = err instanceof S2SError ? err : new S2SError("connect", (err as Error).message);
      released();
      link.failures++;
      link.state = "backoff";
      link.retryAt = Date.now() + Math.min(1000 * 2 ** Math.min(link.failures, 6), 60_000);
      this.connects.inc({ outcome: e.kind, method: "none" });
      this.o.log.warn({ remote: link.remoteDomain, kind: e.kind, err: e.message, retryInMs: link.retryAt - Date.now() }, "outbound s2s connection failed");
      const condition = e.kind === "timeout" ? "remote-server-timeout" : "remote-server-not-found";
      return this.failQueue(link, { type: e.kind === "timeout" ? "wait" : "cancel", condition, text: `cannot reach ${link.remoteDomain}: ${e.message}` });
    }
    // The entry may have changed (or gone) while the stream was set up under the previous one.
    const current = this.o.findPartner(link.remoteDomain);
    const changed = streamNoLongerAllowed(link.remoteDomain, current, { method: connection.authentication, tls: connection.tls !== undefined });
    if (changed !== undefined) {
      this.connects.inc({ outcome: "policy-changed", method: connection.authentication });
      this.o.log.info({ remote: link.remoteDomain, reason: changed }, "closing a new outbound stream: the partner entry changed while it was set up");
      connection.closeWithError("policy-violation", changed);
      released();
      if (this.links.get(link.key) === link) this.links.delete(link.key);
      // Removed: not a partner any more. Changed: the next attempt connects under the new entry.
      return this.failQueue(link, current === undefined ? { type: "cancel", condition: "remote-server-not-found", text: changed } : { type: "wait", condition: "policy-violation", text: changed });
    }
    this.connects.inc({ outcome: "authenticated", method: connection.authentication });
    this.open.inc();
    this.o.log.info(
      { remote: link.remoteDomain, target: connection.target, method: connection.authentication, tls: connection.tls?.protocol ?? "none" },
      "outbound s2s stream authenticated",
    );
    link.connection = connection;
    link.state = "up";
    link.failures = 0;
    connection.on("element", (el) => this.o.log.debug({ remote: link.remoteDomain, name: el.name }, "element on an outbound stream ignored"));
    connection.on("error", (err) => this.o.log.info({ remote: link.remoteDomain, kind: err.kind, err: err.message }, "outbound s2s stream error"));
    connection.on("close", () => {
      this.open.dec();
      released();
      clearTimeout(link.idle);
      clearInterval(link.keepalive);
      if (this.links.get(link.key) === link) this.links.delete(link.key);
    });
    if (partner.keepalive) {
      // RFC 6120 §4.6.1: whitespace keepalives.
      link.keepalive = setInterval(() => connection.keepalive(), this.o.keepaliveIntervalMs);
      link.keepalive.unref();
    }
    const queued = link.queue.splice(0);
    for (const stanza of queued) this.write(link, stanza);
    this.touch(link);
  }

  private failQueue(link: Link, error: StanzaErrorInfo): void {
    const queued = link.queue.splice(0);
    for (const stanza of queued) this.fail(stanza, link.localDomain, link.remoteDomain, error);
  }

  private fail(stanza: QueuedStanza, localDomain: string, remoteDomain: string, error: StanzaErrorInfo): void {
    if (stanza.receipt !== undefined) {
      // The caller waits for the outcome and tells the sender itself (e.g. with a SIP response).
      this.sent.inc({ outcome: "failed" });
      stanza.receipt.failed(error);
      return;
    }
    // RFC 6120 §8.3.1: an error is never answered with an error.
    if (stanza.isError) {
      this.sent.inc({ outcome: "dropped" });
      this.o.log.info({ remote: remoteDomain, condition: error.condition }, "an error stanza could not be delivered and was dropped");
      return;
    }
    this.sent.inc({ outcome: "bounced" });
    this.o.bounce(stanza.xml, localDomain, remoteDomain, error);
  }

  private tlsMaterial(): { cert: string; key: string; ca?: string } | undefined {
    const files = this.o.tlsFiles;
    if (files === undefined) return undefined;
    // Read at each connection: a reloaded certificate is used by the next outbound stream.
    const cert = readFileSync(files.certFile, "utf8");
    const key = readFileSync(files.keyFile, "utf8");
    const ca = files.caFile === undefined ? undefined : readFileSync(files.caFile, "utf8");
    return { cert, key, ...(ca === undefined ? {} : { ca }) };
  }
}

/** Resolve target host names through a given DNS server (tests point it at their bind9). */
function resolverLookup(server: string): LookupFunction {
  const resolver = new Resolver({ timeout: 3000, tries: 2 });
  resolver.setServers([server]);
  return ((hostname: string, options: unknown, callback: (err: Error | null, address: string | { address: string; family: number }[], family?: number) => void) => {
    const all = typeof options === "object" && options !== null && (options as { all?: boolean }).all === true;
    resolver.resolve4(hostname, (err, addresses) => {
      if (err !== null || addresses.length === 0) {
        resolver.resolve6(hostname, (err6, addresses6) => {
          if (err6 !== null || addresses6.length === 0) return callback(err ?? err6 ?? new Error(`${hostname} has no address`), "", 4);
          if (all) return callback(null, addresses6.map((a) => ({ address: a, family: 6 })));
          callback(null, addresses6[0] ?? "", 6);
        });
        return;
      }
      if (all) return callback(null, addresses.map((a) => ({ address: a, family: 4 })));
      callback(null, addresses[0] ?? "", 4);
    });
  }) as LookupFunction;
}
