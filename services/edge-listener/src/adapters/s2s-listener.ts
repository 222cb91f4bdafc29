/**
 * The TCP listener for inbound server-to-server streams (port 5269): connection limits, timeouts,
 * read back-pressure, STARTTLS on the live certificate, and one InboundStream per connection.
 */
import { createServer, type Server, type Socket } from "node:net";
import { TLSSocket } from "node:tls";
import { randomBytes } from "node:crypto";
import { StreamError } from "@passerelle/xmpp";
import { certificateMatchesDomain } from "@passerelle/s2s";
import { Counter, Gauge, Histogram, type Logger, type Registry } from "@passerelle/telemetry";
import { InboundStream, type InboundStreamDeps, type PeerTls, type StreamTransport } from "../protocol/inbound-stream.ts";
import type { TlsContextStore } from "./tls-context.ts";

export interface ListenerOptions {
  host: string;
  port: number;
  connectionLimit: number;
  establishmentTimeoutMs: number;
  inactivityTimeoutMs: number;
  stanzasPerSecond: number;
  tls: TlsContextStore | undefined;
  log: Logger;
  metrics: Registry;
  /** Everything InboundStream needs except the transport and the per-connection pieces. */
  streamDeps: Omit<InboundStreamDeps, "transport" | "tlsAvailable" | "newStreamId" | "events">;
  /**
   * Called on authentication; returns the stream error to close the stream with (the partner's
   * connection limit reached, or its entry changed meanwhile), or undefined to keep it.
   */
  onAuthenticated(stream: InboundStream, info: { streamId: string; domain: string; method: "sasl-external" | "dialback"; tls: boolean }): StreamError | undefined;
  onClosed(stream: InboundStream, info: { streamId: string | undefined; domains: string[] }): void;
  /** True while the stanza publisher cannot take more: reading pauses. */
  saturated(): boolean;
}

export class S2SListener {
  private readonly server: Server;
  private readonly streams = new Set<InboundStream>();
  /** How each authenticated domain of a stream was authenticated (for closeWhere). */
  private readonly authInfo = new WeakMap<InboundStream, Map<string, { method: "sasl-external" | "dialback"; tls: boolean }>>();
  private readonly connections: Gauge;
  private readonly refusals: Counter<"condition">;
  private readonly authentications: Counter<"method" | "tls">;
  private readonly stanzaBytes: Histogram;

  constructor(private readonly o: ListenerOptions) {
    this.connections = new Gauge({ name: "passerelle_edge_inbound_connections", help: "Open inbound s2s connections", labelNames: ["state"], registers: [o.metrics] });
    this.refusals = new Counter({ name: "passerelle_edge_stream_errors_total", help: "Inbound streams closed with a stream error, by condition", labelNames: ["condition"], registers: [o.metrics] });
    this.authentications = new Counter({ name: "passerelle_edge_authentications_total", help: "Inbound streams authenticated, by method", labelNames: ["method", "tls"], registers: [o.metrics] });
    this.stanzaBytes = new Histogram({ name: "passerelle_edge_stanza_bytes", help: "Size of accepted inbound stanzas", buckets: [256, 1024, 4096, 16384, 65536, 262144], registers: [o.metrics] });
    this.server = createServer({ noDelay: true, pauseOnConnect: false }, (socket) => this.onConnection(socket));
    this.server.on("error", (err) => o.log.error({ err }, "s2s listener error"));
  }

  async listen(): Promise<{ host: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.o.port, this.o.host, () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    const address = this.server.address();
    const port = typeof address === "object" && address !== null ? address.port : this.o.port;
    return { host: this.o.host, port };
  }

  get open(): number {
    return this.streams.size;
  }

  /** Stop accepting and close every stream with `system-shutdown`. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const stream of [...this.streams]) stream.fail(new StreamError("system-shutdown", "the gateway is restarting"));
    await closed;
  }

  /** Close the streams of a domain (a removed partner). */
  closeDomain(domain: string, error: StreamError): void {
    for (const stream of [...this.streams]) if (stream.domains.includes(domain)) stream.fail(error);
  }

  /**
   * Close, with a `policy-violation` stream error carrying the reason, every authenticated stream
   * for which `check` returns a reason (a partner removed, or its entry no longer allowing how the
   * stream was authenticated). Returns how many were closed.
   */
  closeWhere(check: (domain: string, facts: { method: "sasl-external" | "dialback"; tls: boolean }) => string | undefined): number {
    let closed = 0;
    for (const stream of [...this.streams]) {
      const auth = this.authInfo.get(stream);
      if (auth === undefined) continue;
      for (const domain of stream.domains) {
        const reason = check(domain, auth.get(domain) ?? { method: "dialback", tls: false });
        if (reason === undefined) continue;
        this.o.log.info({ stream: stream.id, partner: domain, reason }, "closing an inbound stream: the partner entry changed");
        this.refusals.inc({ condition: "policy-violation" });
        stream.fail(new StreamError("policy-violation", reason));
        closed++;
        break;
      }
    }
    return closed;
  }

  private onConnection(raw: Socket): void {
    const log = this.o.log;
    let socket: Socket = raw;
    raw.setKeepAlive(true, 60_000);
    raw.on("error", (err) => log.debug({ err: err.message, remote: raw.remoteAddress }, "inbound socket error"));

    let establishment: NodeJS.Timeout | undefined = undefined;
    let inactivity: NodeJS.Timeout | undefined;
    let bucket = this.o.stanzasPerSecond;
    let bucketAt = Date.now();
    let paused = false;

    const resumeWhenPossible = () => {
      if (!paused) return;
      if (this.o.saturated()) {
        setTimeout(resumeWhenPossible, 5).unref();
        return;
      }
      paused = false;
      socket.resume();
    };

    const transport: StreamTransport = {
      remoteAddress: raw.remoteAddress ?? "unknown",
      write: (data) => {
        if (!socket.destroyed) socket.write(data);
      },
      close: () => {
        clearTimeout(establishment);
        clearTimeout(inactivity);
        socket.end();
        // A peer that never reads its end must not hold the socket forever.
        setTimeout(() => socket.destroy(), 5000).unref();
      },
      startTls: () =>
        new Promise<PeerTls>((resolve, reject) => {
          const tlsStore = this.o.tls;
          if (tlsStore === undefined) return reject(new Error("no certificate configured"));
          raw.removeAllListeners("data");
          const secure = new TLSSocket(raw, {
            isServer: true,
            secureContext: tlsStore.context,
            requestCert: true,
            rejectUnauthorized: false,
          });
          socket = secure;
          secure.on("data", onData);
          secure.on("error", (err) => {
            log.info({ err: err.message, remote: transport.remoteAddress }, "TLS handshake or session failed");
            reject(err);
            stream.socketClosed();
            secure.destroy();
          });
          secure.once("secure", () => {
            const verdict = peerVerification(secure);
            const authorizationError = verdict.error;
            log.debug({ remote: transport.remoteAddress, authorized: verdict.authorized, authorizationError, protocol: secure.getProtocol() }, "inbound TLS established");
            resolve({
              authorized: verdict.authorized,
              ...(authorizationError === undefined ? {} : { authorizationError }),
              matchesDomain: (domain) => {
                const cert = secure.getPeerX509Certificate();
                return cert !== undefined && certificateMatchesDomain(cert, domain);
              },
            });
          });
        }),
    };

    const stream: InboundStream = new InboundStream({
      ...this.o.streamDeps,
      transport,
      tlsAvailable: this.o.tls !== undefined,
      newStreamId: () => randomBytes(12).toString("base64url"),
      events: {
        authenticated: (info) => {
          this.authentications.inc({ method: info.method, tls: String(info.tls) });
          const auth = this.authInfo.get(stream) ?? new Map<string, { method: "sasl-external" | "dialback"; tls: boolean }>();
          auth.set(info.domain, { method: info.method, tls: info.tls });
          this.authInfo.set(stream, auth);
          clearTimeout(establishment);
          this.connections.inc({ state: "authenticated" });
          this.connections.dec({ state: "negotiating" });
          const refusal = this.o.onAuthenticated(stream, info);
          log.info({ stream: info.streamId, partner: info.domain, method: info.method, tls: info.tls }, "inbound stream authenticated");
          if (refusal !== undefined) stream.fail(refusal);
        },
        refused: (info) => {
          this.refusals.inc({ condition: info.condition });
          log.info({ stream: info.streamId, partner: info.partner, condition: info.condition, reason: info.reason, remote: transport.remoteAddress }, "inbound stream refused");
        },
        closed: (info) => {
          clearTimeout(establishment);
          clearTimeout(inactivity);
          if (this.streams.delete(stream)) {
            this.connections.dec({ state: info.domains.length > 0 ? "authenticated" : "negotiating" });
          }
          this.o.onClosed(stream, info);
        },
      },
    });

    const onData = (chunk: Buffer) => {
      resetInactivity();
      stream.receive(chunk);
      // Read back-pressure: JetStream saturated, or the peer above its stanza rate.
      const now = Date.now();
      bucket = Math.min(this.o.stanzasPerSecond, bucket + ((now - bucketAt) / 1000) * this.o.stanzasPerSecond);
      bucketAt = now;
      bucket -= Math.max(1, chunk.length / 512);
      if (!paused && (this.o.saturated() || bucket < 0)) {
        paused = true;
        socket.pause();
        setTimeout(resumeWhenPossible, bucket < 0 ? Math.ceil((-bucket / this.o.stanzasPerSecond) * 1000) : 5).unref();
      }
    };
    const resetInactivity = () => {
      clearTimeout(inactivity);
      inactivity = setTimeout(() => stream.fail(new StreamError("connection-timeout", "no traffic within the inactivity timeout")), this.o.inactivityTimeoutMs);
      inactivity.unref();
    };

    raw.on("data", onData);
    raw.on("close", () => stream.socketClosed());

    if (this.streams.size >= this.o.connectionLimit) {
      // Counted once, by the stream's own "refused" event.
      stream.fail(new StreamError("resource-constraint", "the gateway has reached its connection limit"));
      return;
    }
    this.streams.add(stream);
    this.connections.inc({ state: "negotiating" });
    establishment = setTimeout(() => {
      if (!stream.isAuthenticated) stream.fail(new StreamError("connection-timeout", "the stream was not established in time"));
    }, this.o.establishmentTimeoutMs);
    establishment.unref();
    resetInactivity();
  }
}

/**
 * Whether the peer's certificate chains to our CA bundle. A TLSSocket built around an accepted
 * socket (STARTTLS) never runs the tls.Server code that fills `authorized`, so we ask the TLS
 * handle for OpenSSL's verification result, exactly what tls.Server itself does.
 */
function peerVerification(socket: TLSSocket): { authorized: boolean; error?: string } {
  if (socket.getPeerX509Certificate() === undefined) return { authorized: false, error: "no client certificate presented" };
  const handle = (socket as unknown as { _handle?: { verifyError?: () => (Error & { code?: string }) | null } })._handle;
  if (typeof handle?.verifyError !== "function") return { authorized: false, error: "cannot read the TLS verification result" };
  const error = handle.verifyError();
  return error === null ? { authorized: true } : { authorized: false, error: error.code ?? error.message };
}
