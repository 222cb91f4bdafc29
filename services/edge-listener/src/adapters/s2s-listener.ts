/**
 * The TCP listener for inbound server-to-server streams (port 5269): connection limits, timeouts,
 * read back-pressure, STARTTLS on the live certificate, and one InboundStream per connection.
 * Optionally a second port (XEP-0368, 5270) where TLS starts on connect: same streams, same limits.
 */
import { createServer, type Server, type Socket } from "node:net";
import { TLSSocket } from "node:tls";
import { randomBytes } from "node:crypto";
import { StreamError } from "@passerelle/xmpp";
import { certificateMatchesDomain } from "@passerelle/s2s";
import { Counter, Gauge, Histogram, type Logger, type Registry } from "@passerelle/telemetry";
import { InboundStream, type InboundStreamDeps, type InboundStreamEvents, type PeerTls, type StreamTransport } from "../protocol/inbound-stream.ts";
import type { TlsContextStore } from "./tls-context.ts";

export interface ListenerOptions {
  host: string;
  port: number;
  connectionLimit: number;
  establishmentTimeoutMs: number;
  inactivityTimeoutMs: number;
  stanzasPerSecond: number;
  tls: TlsContextStore | undefined;
  /** XEP-0368 direct TLS: a second listener where TLS starts at once (needs `tls`). */
  directTls?: { host: string; port: number } | undefined;
  log: Logger;
  metrics: Registry;
  /** Everything InboundStream needs except the transport and the per-connection pieces. */
  streamDeps: Omit<InboundStreamDeps, "transport" | "tlsAvailable" | "directTls" | "newStreamId" | "events">;
  /**
   * Called on authentication; returns the stream error to close the stream with (a connection
   * limit reached, or the partner's entry changed meanwhile), or undefined to keep it. While a
   * returned promise is pending (limits counted across replicas), the stream's socket is not read.
   */
  onAuthenticated(stream: InboundStream, info: { streamId: string; domain: string; method: "sasl-external" | "dialback"; tls: boolean }): StreamError | undefined | Promise<StreamError | undefined>;
  onClosed(stream: InboundStream, info: { streamId: string | undefined; domains: string[] }): void;
  /** True while the stanza publisher cannot take more: reading pauses. */
  saturated(): boolean;
}

/** A stream silent this long gives up its XML parser until its next bytes (a few KiB each). */
const PARSER_IDLE_MS = 10_000;

type AuthFacts = { method: "sasl-external" | "dialback"; tls: boolean };
type AuthInfo = AuthFacts & { streamId: string; domain: string };

/** The connection a socket belongs to (the raw socket and, after STARTTLS, the TLS one). */
const CONNECTION = Symbol("passerelle.connection");
type Owned = Socket & { [CONNECTION]?: Connection };

const newStreamId = (): string => randomBytes(12).toString("base64url");

/** XEP-0368 §3: the ALPN protocol name of a direct-TLS server-to-server connection. */
const ALPN_XMPP_SERVER = ["xmpp-server"];

// Socket listeners shared by every connection (no closures per connection: an idle stream's
// memory is the bar, bench/idle-connections.ts).
function onSocketData(this: Owned, chunk: Buffer): void {
  this[CONNECTION]?.data(chunk);
}
function onRawClose(this: Owned): void {
  this[CONNECTION]?.stream.socketClosed();
}
function onRawError(this: Owned, err: Error): void {
  this[CONNECTION]?.rawError(err);
}
function onSecureError(this: Owned, err: Error): void {
  this[CONNECTION]?.tlsError(this as TLSSocket, err);
}
function onSecure(this: Owned): void {
  this[CONNECTION]?.tlsReady(this as TLSSocket);
}
function resumeLater(connection: Connection): void {
  connection.resumeWhenPossible();
}
function destroySocket(socket: Socket): void {
  socket.destroy();
}

/** What TLS told us, read from the socket when asked (RFC 9525 name checks). */
class SocketPeerTls implements PeerTls {
  readonly authorizationError?: string;
  constructor(
    private readonly socket: TLSSocket,
    readonly authorized: boolean,
    authorizationError: string | undefined,
  ) {
    if (authorizationError !== undefined) this.authorizationError = authorizationError;
  }
  matchesDomain(domain: string): boolean {
    const cert = this.socket.getPeerX509Certificate();
    return cert !== undefined && certificateMatchesDomain(cert, domain);
  }
}

/**
 * One accepted connection: the socket (raw, then TLS), its InboundStream, its deadlines (checked by
 * the listener's one sweep timer, not a timer per connection) and its read budget.
 */
class Connection implements StreamTransport, InboundStreamEvents {
  readonly remoteAddress: string;
  readonly stream: InboundStream;
  socket: Socket;
  /** When the stream must be authenticated by (ms since epoch); 0 once it is. */
  establishBy = 0;
  lastActivity = Date.now();
  tracked = false;
  /** How each authenticated domain was authenticated (for closeWhere). */
  auth: Map<string, AuthFacts> | undefined;
  private bucket: number;
  private bucketAt = Date.now();
  private paused = false;
  /** Reading held while the connection limits are checked. */
  private held = 0;
  private tlsPending: { resolve: (tls: PeerTls) => void; reject: (err: Error) => void } | undefined;

  constructor(
    private readonly listener: S2SListener,
    private readonly raw: Owned,
    /** Accepted on the direct-TLS port: the stream starts the handshake at once. */
    readonly direct: boolean,
  ) {
    this.socket = raw;
    this.remoteAddress = raw.remoteAddress ?? "unknown";
    this.bucket = listener.o.stanzasPerSecond;
    raw[CONNECTION] = this;
    this.stream = new InboundStream({
      ...listener.o.streamDeps,
      transport: this,
      tlsAvailable: listener.o.tls !== undefined,
      directTls: direct,
      newStreamId,
      events: this,
    });
  }

  // StreamTransport

  write(data: string): void {
    if (!this.socket.destroyed) this.socket.write(data);
  }

  close(): void {
    this.listener.untrack(this);
    this.socket.end();
    // A peer that never reads its end must not hold the socket forever.
    setTimeout(destroySocket, 5000, this.socket).unref();
  }

  startTls(): Promise<PeerTls> {
    return new Promise<PeerTls>((resolve, reject) => {
      const tlsStore = this.listener.o.tls;
      if (tlsStore === undefined) return reject(new Error("no certificate configured"));
      this.raw.removeListener("data", onSocketData);
      const secure: Owned = new TLSSocket(this.raw, {
        isServer: true,
        secureContext: tlsStore.context,
        requestCert: true,
        rejectUnauthorized: false,
        ...(this.direct ? { ALPNProtocols: ALPN_XMPP_SERVER } : {}),
      });
      secure[CONNECTION] = this;
      this.socket = secure;
      this.tlsPending = { resolve, reject };
      secure.on("data", onSocketData);
      secure.on("error", onSecureError);
      secure.once("secure", onSecure);
    });
  }

  tlsReady(secure: TLSSocket): void {
    const pending = this.tlsPending;
    this.tlsPending = undefined;
    const verdict = peerVerification(secure);
    this.listener.o.log.debug(
      { remote: this.remoteAddress, listener: this.listenerName, authorized: verdict.authorized, authorizationError: verdict.error, protocol: secure.getProtocol() },
      "inbound TLS established",
    );
    pending?.resolve(new SocketPeerTls(secure, verdict.authorized, verdict.error));
  }

  tlsError(secure: TLSSocket, err: Error): void {
    this.listener.o.log.info({ err: err.message, remote: this.remoteAddress, listener: this.listenerName }, "TLS handshake or session failed");
    const pending = this.tlsPending;
    this.tlsPending = undefined;
    pending?.reject(err);
    this.stream.socketClosed();
    secure.destroy();
  }

  get listenerName(): "plain" | "direct-tls" {
    return this.direct ? "direct-tls" : "plain";
  }

  rawError(err: Error): void {
    this.listener.o.log.debug({ err: err.message, remote: this.remoteAddress }, "inbound socket error");
  }

  // InboundStreamEvents

  authenticated(info: AuthInfo): void {
    this.listener.streamAuthenticated(this, info);
  }

  refused(info: { streamId: string | undefined; condition: string; reason: string; partner: string | undefined }): void {
    this.listener.refusals.inc({ condition: info.condition });
    this.listener.o.log.info(
      { stream: info.streamId, partner: info.partner, condition: info.condition, reason: info.reason, remote: this.remoteAddress, listener: this.listenerName },
      "inbound stream refused",
    );
  }

  closed(info: { streamId: string | undefined; domains: string[] }): void {
    this.listener.streamClosed(this, info);
  }

  // Reading

  data(chunk: Buffer): void {
    const now = Date.now();
    this.lastActivity = now;
    this.stream.receive(chunk);
    // Read back-pressure: JetStream saturated, or the peer above its stanza rate.
    const rate = this.listener.o.stanzasPerSecond;
    this.bucket = Math.min(rate, this.bucket + ((now - this.bucketAt) / 1000) * rate);
    this.bucketAt = now;
    this.bucket -= Math.max(1, chunk.length / 512);
    if (!this.paused && (this.listener.o.saturated() || this.bucket < 0)) {
      this.paused = true;
      this.socket.pause();
      setTimeout(resumeLater, this.bucket < 0 ? Math.ceil((-this.bucket / rate) * 1000) : 5, this).unref();
    }
  }

  /** Stop reading until release() (the limit check of a just-authenticated domain). */
  hold(): void {
    this.held++;
    this.socket.pause();
  }

  release(): void {
    this.held--;
    if (this.held === 0 && !this.paused) this.socket.resume();
  }

  resumeWhenPossible(): void {
    if (!this.paused) return;
    if (this.held > 0) {
      this.paused = false;
      return;
    }
    if (this.listener.o.saturated()) {
      setTimeout(resumeLater, 5, this).unref();
      return;
    }
    this.paused = false;
    this.socket.resume();
  }
}

export class S2SListener {
  private readonly server: Server;
  private readonly directServer: Server | undefined;
  private readonly accepted: Counter<"listener">;
  private readonly connections = new Map<InboundStream, Connection>();
  private readonly gauge: Gauge;
  readonly refusals: Counter<"condition">;
  private readonly authentications: Counter<"method" | "tls">;
  private readonly stanzaBytes: Histogram;
  /** One timer for every connection's establishment and inactivity deadlines. */
  private readonly sweeper: NodeJS.Timeout;

  constructor(readonly o: ListenerOptions) {
    this.gauge = new Gauge({ name: "passerelle_edge_inbound_connections", help: "Open inbound s2s connections", labelNames: ["state"], registers: [o.metrics] });
    this.refusals = new Counter({ name: "passerelle_edge_stream_errors_total", help: "Inbound streams closed with a stream error, by condition", labelNames: ["condition"], registers: [o.metrics] });
    this.authentications = new Counter({ name: "passerelle_edge_authentications_total", help: "Inbound streams authenticated, by method", labelNames: ["method", "tls"], registers: [o.metrics] });
    this.stanzaBytes = new Histogram({ name: "passerelle_edge_stanza_bytes", help: "Size of accepted inbound stanzas", buckets: [256, 1024, 4096, 16384, 65536, 262144], registers: [o.metrics] });
    this.server = createServer({ noDelay: true, pauseOnConnect: false }, (socket) => this.onConnection(socket));
    this.server.on("error", (err) => o.log.error({ err }, "s2s listener error"));
    this.accepted = new Counter({ name: "passerelle_edge_connections_accepted_total", help: "Inbound s2s connections accepted, by listener (plain: STARTTLS port; direct-tls: XEP-0368)", labelNames: ["listener"], registers: [o.metrics] });
    if (o.directTls !== undefined) {
      if (o.tls === undefined) throw new Error("edge.directTls needs a certificate (edge.tls)");
      this.directServer = createServer({ noDelay: true, pauseOnConnect: false }, (socket) => this.onConnection(socket, true));
      this.directServer.on("error", (err) => o.log.error({ err }, "direct-TLS s2s listener error"));
    }
    // Deadlines are checked at a quarter of the shorter timeout (at most every second, at least
    // every 100 ms): a stream is closed at most that late.
    const tick = Math.max(100, Math.min(1000, Math.floor(Math.min(o.establishmentTimeoutMs, o.inactivityTimeoutMs) / 4)));
    this.sweeper = setInterval(() => this.sweep(Date.now()), tick);
    this.sweeper.unref();
  }

  async listen(): Promise<{ host: string; port: number; directTls?: { host: string; port: number } }> {
    const port = await listenOn(this.server, this.o.host, this.o.port);
    const direct = this.o.directTls;
    if (this.directServer === undefined || direct === undefined) return { host: this.o.host, port };
    return { host: this.o.host, port, directTls: { host: direct.host, port: await listenOn(this.directServer, direct.host, direct.port) } };
  }

  get open(): number {
    return this.connections.size;
  }

  /** Stop accepting and close every stream with `system-shutdown`. */
  async close(): Promise<void> {
    clearInterval(this.sweeper);
    const closed = Promise.all(
      [this.server, this.directServer].map((server) => (server === undefined ? undefined : new Promise<void>((resolve) => server.close(() => resolve())))),
    );
    for (const stream of [...this.connections.keys()]) stream.fail(new StreamError("system-shutdown", "the gateway is restarting"));
    await closed;
  }

  /** Close the streams of a domain (a removed partner). */
  closeDomain(domain: string, error: StreamError): void {
    for (const stream of [...this.connections.keys()]) if (stream.domains.includes(domain)) stream.fail(error);
  }

  /**
   * Close, with a `policy-violation` stream error carrying the reason, every authenticated stream
   * for which `check` returns a reason (a partner removed, or its entry no longer allowing how the
   * stream was authenticated). Returns how many were closed.
   */
  closeWhere(check: (domain: string, facts: AuthFacts) => string | undefined): number {
    let closed = 0;
    for (const [stream, connection] of [...this.connections]) {
      const auth = connection.auth;
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

  /** Stops checking a connection's deadlines (it is closing). */
  untrack(connection: Connection): void {
    connection.tracked = false;
  }

  streamAuthenticated(connection: Connection, info: AuthInfo): void {
    const stream = connection.stream;
    this.authentications.inc({ method: info.method, tls: String(info.tls) });
    connection.auth ??= new Map<string, AuthFacts>();
    connection.auth.set(info.domain, { method: info.method, tls: info.tls });
    connection.establishBy = 0;
    this.gauge.inc({ state: "authenticated" });
    this.gauge.dec({ state: "negotiating" });
    this.o.log.info({ stream: info.streamId, partner: info.domain, method: info.method, tls: info.tls, listener: connection.listenerName }, "inbound stream authenticated");
    const refusal = this.o.onAuthenticated(stream, info);
    if (refusal === undefined) return;
    if (refusal instanceof StreamError) return stream.fail(refusal);
    connection.hold();
    refusal.then(
      (error) => {
        connection.release();
        if (error !== undefined) stream.fail(error);
      },
      (err: unknown) => {
        connection.release();
        this.o.log.error({ err: (err as Error).message, stream: info.streamId }, "the connection limit check failed");
      },
    );
  }

  streamClosed(connection: Connection, info: { streamId: string | undefined; domains: string[] }): void {
    connection.tracked = false;
    if (this.connections.delete(connection.stream)) {
      this.gauge.dec({ state: info.domains.length > 0 ? "authenticated" : "negotiating" });
    }
    this.o.onClosed(connection.stream, info);
  }

  /** RFC 6120 §4.6 / Lync's timeouts: establishment before authentication, inactivity throughout. */
  private sweep(now: number): void {
    const inactivity = this.o.inactivityTimeoutMs;
    for (const connection of this.connections.values()) {
      if (!connection.tracked) continue;
      if (connection.establishBy !== 0 && now >= connection.establishBy && !connection.stream.isAuthenticated) {
        connection.tracked = false;
        connection.stream.fail(new StreamError("connection-timeout", "the stream was not established in time"));
      } else if (now - connection.lastActivity >= inactivity) {
        connection.tracked = false;
        connection.stream.fail(new StreamError("connection-timeout", "no traffic within the inactivity timeout"));
      } else if (now - connection.lastActivity >= PARSER_IDLE_MS && !connection.stream.parserReleased) {
        // Between stanzas the parser is rebuilt from the header with the next bytes.
        connection.stream.releaseIdleParser();
      }
    }
  }

  private onConnection(socket: Socket, direct = false): void {
    socket.setKeepAlive(true, 60_000);
    this.accepted.inc({ listener: direct ? "direct-tls" : "plain" });
    // On the direct-TLS port the stream has already put a TLS socket over this one, which reads it.
    const connection = new Connection(this, socket, direct);
    socket.on("error", onRawError);
    if (!direct) socket.on("data", onSocketData);
    socket.on("close", onRawClose);
    if (this.connections.size >= this.o.connectionLimit) {
      // Counted once, by the stream's own "refused" event.
      connection.stream.fail(new StreamError("resource-constraint", "the gateway has reached its connection limit"));
      return;
    }
    this.connections.set(connection.stream, connection);
    this.gauge.inc({ state: "negotiating" });
    connection.establishBy = Date.now() + this.o.establishmentTimeoutMs;
    connection.tracked = true;
  }
}

async function listenOn(server: Server, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  return typeof address === "object" && address !== null ? address.port : port;
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
