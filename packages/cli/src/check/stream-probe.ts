/**
 * What a partner's server offers, seen from a test connection: the stream header and features
 * (RFC 6120 §4.3), STARTTLS (§5) and the certificate it then presents, and the features after
 * TLS (SASL EXTERNAL per XEP-0178, dialback per XEP-0220 §2.4). Nothing is authenticated; the
 * stream is closed once the features are read. Every wait is bounded; the socket is always closed.
 */
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect, type PeerCertificate, type TLSSocket } from "node:tls";
import { certificateMatchesDomain, describeCertificateIdentities } from "@passerelle/s2s";
import { NS, STREAM_CLOSE, StreamParser, streamHeader, xml, serialize, type Element, type StreamHeader } from "@passerelle/xmpp";

export interface OfferedFeatures {
  starttls: boolean;
  starttlsRequired: boolean;
  saslMechanisms: string[];
  dialback: boolean;
}

export interface PeerCertificateReport {
  /** Chained to a CA we trust (the edge's caFile, else Node's CAs). */
  trusted: boolean;
  trustError?: string;
  /** RFC 9525 identity check against the partner's domain. */
  namesDomain: boolean;
  identities: string;
  validTo: string;
  expired: boolean;
}

export interface ProbeResult {
  target: string;
  /** XEP-0368: TLS from the first byte (then `before` is what was offered over TLS too). */
  directTls: boolean;
  before: OfferedFeatures;
  /** After STARTTLS; undefined when TLS was not negotiated. */
  tls?: { protocol: string; certificate: PeerCertificateReport | undefined; after: OfferedFeatures; error?: string };
}

export interface ProbeOptions {
  host: string;
  port: number;
  localDomain: string;
  remoteDomain: string;
  /** Try STARTTLS when offered. */
  starttls: boolean;
  /** XEP-0368: TLS from the first byte (ALPN "xmpp-server", SNI the remote domain). */
  directTls?: boolean;
  ca?: string | Buffer;
  /** Client certificate presented in the handshake (as the edge would). */
  cert?: string | Buffer;
  key?: string | Buffer;
  timeoutMs: number;
}

const LIMITS = { maxStanzaBytes: 65536, maxDepth: 16, maxAttributesPerElement: 32, maxHeaderBytes: 4096 };

function featuresOf(header: StreamHeader, el: Element | undefined): OfferedFeatures {
  const starttls = el?.getChild("starttls", NS.tls);
  const mechanisms = el?.getChild("mechanisms", NS.sasl)?.getChildren("mechanism", NS.sasl) ?? [];
  return {
    starttls: starttls !== undefined,
    starttlsRequired: starttls?.getChild("required", NS.tls) !== undefined,
    saslMechanisms: mechanisms.slice(0, 32).map((m) => m.getText().trim().slice(0, 64)),
    dialback: el?.getChild("dialback", NS.dialbackFeature) !== undefined || header.namespaces.db === NS.dialback,
  };
}

/** One stream's header and first element, read with the restricted parser. */
class Reader {
  private parser: StreamParser;
  private header: StreamHeader | undefined;
  private readonly elements: Element[] = [];
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(private socket: Socket | TLSSocket) {
    this.parser = this.newParser();
    this.attach(socket);
  }

  private newParser(): StreamParser {
    return new StreamParser(LIMITS, {
      onStreamStart: (h) => {
        this.header = h;
        this.wake?.();
      },
      onElement: (el) => {
        if (this.elements.length < 16) this.elements.push(el);
        this.wake?.();
      },
      onStreamEnd: () => this.fail(new Error("the server closed the stream")),
      onError: (err) => this.fail(new Error(`stream error: ${err.condition}${err.text === undefined ? "" : ` (${err.text})`}`)),
    });
  }

  private readonly onData = (chunk: Buffer): void => this.parser.write(chunk);
  private readonly onClose = (): void => this.fail(new Error("the connection closed"));
  private readonly onError = (err: Error): void => this.fail(err);

  attach(socket: Socket | TLSSocket): void {
    this.socket = socket;
    socket.on("data", this.onData);
    socket.on("close", this.onClose);
    socket.on("error", this.onError);
  }

  detach(): void {
    this.socket.off("data", this.onData);
    this.socket.off("close", this.onClose);
    this.socket.off("error", this.onError);
  }

  /** A new stream (after STARTTLS): a fresh parser. */
  restart(socket: Socket | TLSSocket): void {
    this.detach();
    this.header = undefined;
    this.elements.length = 0;
    this.parser = this.newParser();
    this.attach(socket);
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.wake?.();
  }

  private async until<T>(what: string, ready: () => T | undefined, deadline: number): Promise<T> {
    for (;;) {
      const value = ready();
      if (value !== undefined) return value;
      if (this.failure !== undefined) throw new Error(`${this.failure.message} while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} within the time allowed`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  header_(deadline: number): Promise<StreamHeader> {
    return this.until("stream header", () => this.header, deadline);
  }

  next(what: string, deadline: number): Promise<Element> {
    return this.until(what, () => this.elements.shift(), deadline);
  }
}

async function openHeaderAndFeatures(socket: Socket | TLSSocket, reader: Reader, o: ProbeOptions, deadline: number): Promise<OfferedFeatures> {
  socket.write(streamHeader({ from: o.localDomain, to: o.remoteDomain, version: "1.0", dialback: true }));
  const header = await reader.header_(deadline);
  // RFC 6120 §4.7.5: a pre-1.0 server sends no features.
  if (header.attrs.version === undefined || !header.attrs.version.startsWith("1.")) return featuresOf(header, undefined);
  const el = await reader.next("stream features", deadline);
  if (!el.is("features", NS.streams)) throw new Error(`expected <stream:features/>, got <${el.name}/>`);
  return featuresOf(header, el);
}

function reportCertificate(socket: TLSSocket, domain: string): PeerCertificateReport | undefined {
  const cert: PeerCertificate = socket.getPeerCertificate(false);
  if (cert === null || typeof cert !== "object" || !Buffer.isBuffer(cert.raw)) return undefined;
  const validTo = cert.valid_to;
  return {
    trusted: socket.authorized,
    ...(socket.authorized ? {} : { trustError: String(socket.authorizationError ?? "unknown") }),
    namesDomain: certificateMatchesDomain(cert, domain),
    identities: describeCertificateIdentities(cert),
    validTo,
    expired: Date.parse(validTo) < Date.now(),
  };
}

function tlsOptions(o: ProbeOptions) {
  return {
    servername: o.remoteDomain,
    // Judged below (chain result + RFC 9525 identity), never by Node's CN-based check.
    rejectUnauthorized: false,
    checkServerIdentity: () => undefined,
    minVersion: "TLSv1.2" as const,
    ...(o.ca === undefined ? {} : { ca: o.ca }),
    ...(o.cert === undefined || o.key === undefined ? {} : { cert: o.cert, key: o.key }),
  };
}

function waitFor(socket: Socket | TLSSocket, event: "connect" | "secureConnect", what: string, deadline: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} timed out`)), Math.max(0, deadline - Date.now()));
    socket.once(event, () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`${what} failed: ${err.message}`));
    });
  });
}

/** Connects, reads the features, does STARTTLS when offered and asked, reads them again, closes. */
export async function probeStream(o: ProbeOptions): Promise<ProbeResult> {
  const deadline = Date.now() + o.timeoutMs;
  const target = `${o.host}:${o.port}`;
  if (o.directTls === true) {
    const direct = tlsConnect({ host: o.host, port: o.port, ...tlsOptions(o), ALPNProtocols: ["xmpp-server"] });
    try {
      await waitFor(direct, "secureConnect", `the TLS handshake with ${target}`, deadline);
      const certificate = reportCertificate(direct, o.remoteDomain);
      const protocol = direct.getProtocol() ?? "unknown";
      const reader = new Reader(direct);
      const offered = await openHeaderAndFeatures(direct, reader, o, deadline);
      direct.end(STREAM_CLOSE);
      return { target, directTls: true, before: offered, tls: { protocol, certificate, after: offered } };
    } finally {
      setTimeout(() => direct.destroy(), 200).unref();
    }
  }
  const raw = netConnect({ host: o.host, port: o.port });
  let secure: TLSSocket | undefined;
  try {
    await waitFor(raw, "connect", `connecting to ${target}`, deadline);
    const reader = new Reader(raw);
    const before = await openHeaderAndFeatures(raw, reader, o, deadline);
    if (!before.starttls || !o.starttls) {
      raw.end(STREAM_CLOSE);
      return { target, directTls: false, before };
    }
    raw.write(serialize(xml("starttls", { xmlns: NS.tls })));
    const answer = await reader.next("the STARTTLS answer", deadline);
    if (!answer.is("proceed", NS.tls)) throw new Error(`the server refused STARTTLS (<${answer.name}/>)`);
    reader.detach();
    secure = tlsConnect({ socket: raw, ...tlsOptions(o) });
    const tlsSocket = secure;
    await waitFor(tlsSocket, "secureConnect", "the TLS handshake", deadline);
    const certificate = reportCertificate(tlsSocket, o.remoteDomain);
    const protocol = tlsSocket.getProtocol() ?? "unknown";
    reader.restart(tlsSocket);
    try {
      const after = await openHeaderAndFeatures(tlsSocket, reader, o, deadline);
      tlsSocket.end(STREAM_CLOSE);
      return { target, directTls: false, before, tls: { protocol, certificate, after } };
    } catch (err) {
      // Some servers close a stream whose client certificate they dislike: the handshake still told us a lot.
      return { target, directTls: false, before, tls: { protocol, certificate, after: { starttls: false, starttlsRequired: false, saslMechanisms: [], dialback: false }, error: (err as Error).message } };
    }
  } finally {
    // Let the closing tag go out, then make sure nothing stays open.
    setTimeout(() => {
      secure?.destroy();
      raw.destroy();
    }, 200).unref();
  }
}
