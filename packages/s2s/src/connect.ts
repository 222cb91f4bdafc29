/**
 * Opening an outbound server-to-server stream: connect (RFC 6120 §3.2, XEP-0368), stream header
 * and features (RFC 6120 §4), STARTTLS (§5) with the peer's certificate checked (RFC 9525), then
 * SASL EXTERNAL (§6, XEP-0178) or dialback (XEP-0220); or, for a dialback authority, a stream that
 * only carries one <db:verify/>. Every wait is bounded and every socket is closed on every path.
 */
import { connect as netConnect, type LookupFunction, type Socket } from "node:net";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { NS, streamHeader, xml, type Element, type StreamHeader, type StreamParserLimits } from "@passerelle/xmpp";
import { certificateMatchesDomain, describeCertificateIdentities } from "./certificate-identity.ts";
import { S2SConnection, type AuthMethod, type TlsInfo } from "./connection.ts";
import { S2SError } from "./errors.ts";
import { StreamSession } from "./stream-session.ts";

export type Negotiation = "required" | "optional" | "not-supported";

export interface S2STarget {
  host: string;
  port: number;
  /** XEP-0368: TLS from the first byte. */
  directTls: boolean;
}

export interface TlsMaterial {
  /** Our certificate chain and key (PEM), presented for SASL EXTERNAL (XEP-0178). */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** CAs to verify the peer's certificate (PEM); Node's default CAs when absent. */
  ca?: string | Buffer | (string | Buffer)[];
}

export interface CommonOptions {
  localDomain: string;
  remoteDomain: string;
  /** In the order to try them (from resolution); at most 16 are tried. */
  targets: readonly S2STarget[];
  tls: Negotiation;
  tlsMaterial?: TlsMaterial;
  /**
   * What an untrusted or misnamed peer certificate does: "require" fails the connection,
   * "report" goes on and records it in `tls` (dialback over TLS with self-signed certificates).
   * Default "require".
   */
  certificate?: "require" | "report";
  timeouts: {
    /** Per target: TCP connect (and the TLS handshake for direct TLS). */
    connectMs: number;
    /** From connected to authenticated (or verified), per target. */
    establishmentMs: number;
  };
  limits: StreamParserLimits;
  /** Name resolution for target hosts (default: the system's). */
  lookup?: LookupFunction;
}

export interface DialbackKeyContext {
  /** The stream id the receiving server gave us. */
  streamId: string;
  receiving: string;
  originating: string;
}

export interface ConnectOptions extends CommonOptions {
  /** SASL EXTERNAL (needs TLS and our certificate). */
  sasl: Negotiation;
  dialback: boolean;
  /** The key for `<db:result/>` (from the dialback authority). */
  dialbackKey?: (context: DialbackKeyContext) => Promise<string>;
}

export interface VerifyOptions extends CommonOptions {
  /** XEP-0220 §2.2: the stream id and key the originating server sent us in its db:result. */
  streamId: string;
  key: string;
}

export interface VerifyResult {
  valid: boolean;
  /** The target that answered and how the stream was protected. */
  target: string;
  tls: TlsInfo | undefined;
}

const MAX_TARGETS = 16;
const MAX_KEY_LENGTH = 1024;

/** A deadline-bounded promise: rejects with a timeout error when the deadline passes first. */
async function beforeDeadline<T>(promise: Promise<T>, deadline: number, what: string, target: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new S2SError("timeout", `timed out ${what}`, { target })), Math.max(0, deadline - Date.now()));
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function tlsOptions(options: CommonOptions) {
  const m = options.tlsMaterial ?? {};
  return {
    servername: options.remoteDomain,
    ...(m.cert === undefined ? {} : { cert: m.cert }),
    ...(m.key === undefined ? {} : { key: m.key }),
    ...(m.ca === undefined ? {} : { ca: m.ca }),
    // We decide on the certificate ourselves (chain result + RFC 9525 identity) below; Node's
    // own name check (which falls back to the CN) is switched off so `authorized` is the chain alone.
    rejectUnauthorized: false,
    checkServerIdentity: () => undefined,
    minVersion: "TLSv1.2" as const,
  };
}

/** RFC 9525 §6 + RFC 6120 §13.7.2: judge the peer's certificate for the remote domain. */
function inspectCertificate(socket: TLSSocket, options: CommonOptions, target: string): TlsInfo {
  const cert = socket.getPeerCertificate(false);
  const present = cert !== null && typeof cert === "object" && Buffer.isBuffer(cert.raw);
  const identityMatches = present && certificateMatchesDomain(cert, options.remoteDomain);
  const trusted = present && socket.authorized;
  const problems: string[] = [];
  if (!present) problems.push("the peer presented no certificate");
  else {
    if (!trusted) problems.push(`certificate not trusted (${String(socket.authorizationError ?? "unknown")})`);
    if (!identityMatches) problems.push(`certificate does not name ${options.remoteDomain} (${describeCertificateIdentities(cert)})`);
  }
  const info: TlsInfo = { protocol: socket.getProtocol() ?? "unknown", trusted, identityMatches, ...(problems.length > 0 ? { problem: problems.join("; ") } : {}) };
  if ((options.certificate ?? "require") === "require" && problems.length > 0) {
    throw new S2SError("certificate", `${options.remoteDomain}: ${problems.join("; ")}`, { target });
  }
  return info;
}

/** TCP, or TLS from the first byte for XEP-0368 targets; bounded by connectMs. */
async function openSocket(options: CommonOptions, target: S2STarget): Promise<{ socket: Socket | TLSSocket; tls?: TlsInfo }> {
  const label = `${target.host}:${target.port}`;
  const lookup = options.lookup === undefined ? {} : { lookup: options.lookup };
  const socket: Socket | TLSSocket = target.directTls
    ? // XEP-0368 §3: ALPN "xmpp-server", SNI the remote domain.
      tlsConnect({ host: target.host, port: target.port, ...lookup, ...tlsOptions(options), ALPNProtocols: ["xmpp-server"] })
    : netConnect({ host: target.host, port: target.port, ...lookup });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new S2SError("connect", `connecting to ${label} timed out`, { target: label })), options.timeouts.connectMs);
      socket.once(target.directTls ? "secureConnect" : "connect", () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once("error", (err) => {
        clearTimeout(timer);
        reject(new S2SError(target.directTls ? "tls" : "connect", `connecting to ${label}: ${err.message}`, { target: label, cause: err }));
      });
    });
    socket.setNoDelay(true);
    return target.directTls ? { socket, tls: inspectCertificate(socket as TLSSocket, options, label) } : { socket };
  } catch (err) {
    socket.destroy();
    throw err;
  }
}

/** RFC 6120 §5.4.3.3: wrap the socket in TLS after <proceed/>, bounded by the deadline. */
async function upgradeToTls(session: StreamSession, options: CommonOptions, deadline: number): Promise<TlsInfo> {
  const raw = session.detach();
  const secure = tlsConnect({ socket: raw as Socket, ...tlsOptions(options) });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new S2SError("timeout", "TLS handshake timed out", { target: session.target })), Math.max(0, deadline - Date.now()));
      secure.once("secureConnect", () => {
        clearTimeout(timer);
        resolve();
      });
      secure.once("error", (err) => {
        clearTimeout(timer);
        reject(new S2SError("tls", `TLS handshake failed: ${err.message}`, { target: session.target, cause: err }));
      });
      raw.once("close", () => {
        clearTimeout(timer);
        reject(new S2SError("tls", "the connection closed during the TLS handshake", { target: session.target }));
      });
    });
    const info = inspectCertificate(secure, options, session.target);
    session.reattach(secure);
    return info;
  } catch (err) {
    secure.destroy();
    raw.destroy();
    throw err;
  }
}

interface Opened {
  session: StreamSession;
  header: StreamHeader;
  features: Element;
  tls: TlsInfo | undefined;
}

/** The features of a pre-1.0 peer: none. */
function noFeatures(): Element {
  return xml("stream:features", { "xmlns:stream": NS.streams });
}

/** RFC 6120 §4.7: send our header; read the peer's header and (version 1.0) its features. */
async function exchangeHeaders(session: StreamSession, options: CommonOptions, deadline: number): Promise<{ header: StreamHeader; features: Element }> {
  // XEP-0220 §2.1: declare the dialback namespace in our header.
  session.write(streamHeader({ from: options.localDomain, to: options.remoteDomain, version: "1.0", dialback: true }));
  const header = await session.nextHeader(deadline);
  // RFC 6120 §4.7.5: a peer without version="1.0" sends no features (only dialback is possible).
  if (header.attrs.version === undefined || !header.attrs.version.startsWith("1.")) return { header, features: noFeatures() };
  const el = await session.nextElement(deadline, "stream features");
  if (!el.is("features", NS.streams)) {
    session.failWithStreamError("unsupported-stanza-type", `expected <stream:features/>, got <${el.name}/>`);
    throw session.error ?? new S2SError("protocol", "expected stream features");
  }
  return { header, features: el };
}

/** Connect to the first target that answers, and negotiate TLS per the policy (RFC 6120 §5). */
async function openStream(options: CommonOptions): Promise<Opened> {
  if (options.targets.length === 0) throw new S2SError("no-targets", `no address to connect to for ${options.remoteDomain}`);
  const failures: string[] = [];
  let lastError: S2SError | undefined;
  // RFC 6120 §3.2.1 step 8 / XEP-0368: try the targets in order until a connection is made.
  for (const target of options.targets.slice(0, MAX_TARGETS)) {
    if (target.directTls && options.tls === "not-supported") continue;
    let opened: { socket: Socket | TLSSocket; tls?: TlsInfo };
    try {
      opened = await openSocket(options, target);
    } catch (err) {
      lastError = err instanceof S2SError ? err : new S2SError("connect", String(err));
      failures.push(lastError.message);
      continue;
    }
    const label = `${target.host}:${target.port}`;
    const session = new StreamSession(opened.socket, options.limits, label);
    const deadline = Date.now() + options.timeouts.establishmentMs;
    try {
      let tls = opened.tls;
      let { header, features } = await exchangeHeaders(session, options, deadline);
      if (tls === undefined) {
        const starttls = features.getChild("starttls", NS.tls);
        if (starttls !== undefined && options.tls !== "not-supported") {
          // RFC 6120 §5.4.2: <starttls/>, then <proceed/> or <failure/>.
          session.write(xml("starttls", { xmlns: NS.tls }));
          const answer = await session.nextElement(deadline, "the STARTTLS answer");
          if (!answer.is("proceed", NS.tls)) throw new S2SError("tls", `${options.remoteDomain} refused STARTTLS (<${answer.name}/>)`, { target: label });
          tls = await upgradeToTls(session, options, deadline);
          ({ header, features } = await exchangeHeaders(session, options, deadline));
        } else if (options.tls === "required") {
          throw new S2SError("tls", `${options.remoteDomain} does not offer STARTTLS and our policy requires TLS`, { target: label });
        } else if (starttls?.getChild("required", NS.tls) !== undefined) {
          throw new S2SError("tls", `${options.remoteDomain} requires TLS and our policy does not support it`, { target: label });
        }
      }
      return { session, header, features, tls };
    } catch (err) {
      session.destroy();
      throw err;
    }
  }
  if (failures.length === 0) throw new S2SError("no-targets", `no target of ${options.remoteDomain} fits the TLS policy`);
  throw new S2SError(lastError?.kind ?? "connect", `could not connect to ${options.remoteDomain}: ${failures.join("; ")}`, { cause: lastError, ...(lastError?.target === undefined ? {} : { target: lastError.target }) });
}

function offersExternal(features: Element): boolean {
  const mechanisms = features.getChild("mechanisms", NS.sasl);
  return mechanisms?.getChildren("mechanism", NS.sasl).some((m) => m.getText().trim() === "EXTERNAL") ?? false;
}

function offersDialback(header: StreamHeader, features: Element): boolean {
  // XEP-0220 §2.4: the dialback feature, or (older servers) the db namespace on the header.
  return features.getChild("dialback", NS.dialbackFeature) !== undefined || header.namespaces.db === NS.dialback;
}

/** During negotiation, anything but the expected answer is a protocol error. */
function expect(el: Element, name: string, ns: string, what: string, target: string): void {
  if (!el.is(name, ns)) throw new S2SError("protocol", `expected ${what}, got <${el.name}/>`, { target });
}

/**
 * Open an authenticated outbound stream to `remoteDomain`: STARTTLS per `tls`, then SASL EXTERNAL
 * (XEP-0178) when offered and allowed, else dialback (XEP-0220) with a key from `dialbackKey`.
 */
export async function connectS2S(options: ConnectOptions): Promise<S2SConnection> {
  const { session, header, features, tls } = await openStream(options);
  const deadline = Date.now() + options.timeouts.establishmentMs;
  const target = session.target;
  try {
    let method: AuthMethod | undefined;
    let streamId = header.attrs.id;
    let saslProblem = "";
    const haveCertificate = options.tlsMaterial?.cert !== undefined && options.tlsMaterial.key !== undefined;
    if (options.sasl !== "not-supported" && tls !== undefined && haveCertificate && offersExternal(features)) {
      // XEP-0178 §3 / RFC 6120 §6.4.2: EXTERNAL with our domain as authorization identity.
      session.write(xml("auth", { xmlns: NS.sasl, mechanism: "EXTERNAL" }, Buffer.from(options.localDomain, "utf8").toString("base64")));
      const answer = await session.nextElement(deadline, "the SASL answer");
      if (answer.is("success", NS.sasl)) {
        // RFC 6120 §6.4.6: the stream restarts after SASL success.
        session.restart();
        const restarted = await exchangeHeaders(session, options, deadline);
        streamId = restarted.header.attrs.id;
        method = "sasl-external";
      } else if (answer.is("failure", NS.sasl)) {
        const condition = answer.getChildElements()[0]?.getName() ?? "failure";
        saslProblem = `SASL EXTERNAL failed (${condition})`;
      } else {
        throw new S2SError("protocol", `expected the SASL answer, got <${answer.name}/>`, { target });
      }
    } else if (options.sasl === "required") {
      saslProblem = tls === undefined ? "SASL needs TLS" : !haveCertificate ? "we have no certificate for SASL EXTERNAL" : "the peer does not offer SASL EXTERNAL";
    }
    if (method === undefined && options.sasl === "required") throw new S2SError("auth", `${options.remoteDomain}: ${saslProblem}`, { target });
    if (method === undefined) {
      if (!options.dialback || options.dialbackKey === undefined) {
        throw new S2SError("auth", `${options.remoteDomain}: no authentication method in common${saslProblem === "" ? "" : ` (${saslProblem})`}`, { target });
      }
      if (!offersDialback(header, features)) throw new S2SError("auth", `${options.remoteDomain} offers no dialback${saslProblem === "" ? "" : ` (${saslProblem})`}`, { target });
      if (streamId === undefined || streamId.length === 0) throw new S2SError("protocol", `${options.remoteDomain} gave no stream id`, { target });
      const key = await beforeDeadline(options.dialbackKey({ streamId, receiving: options.remoteDomain, originating: options.localDomain }), deadline, "getting the dialback key", target);
      if (typeof key !== "string" || key.length === 0 || key.length > MAX_KEY_LENGTH) throw new S2SError("auth", "the dialback key is not usable", { target });
      // XEP-0220 §2.1.1: <db:result from='originating' to='receiving'>key</db:result>.
      session.write(xml("db:result", { from: options.localDomain, to: options.remoteDomain }, key));
      const answer = await session.nextElement(deadline, "the dialback result");
      expect(answer, "result", NS.dialback, "<db:result/>", target);
      // XEP-0220 §2.1.2: type valid / invalid / error, addressed back to us.
      if (answer.attrs.from !== options.remoteDomain || answer.attrs.to !== options.localDomain) {
        throw new S2SError("protocol", "the dialback result is addressed to someone else", { target });
      }
      if (answer.attrs.type !== "valid") {
        const condition = answer.getChild("error")?.getChildElements()[0]?.getName();
        throw new S2SError("auth", `${options.remoteDomain} refused our dialback key (${answer.attrs.type ?? "no type"}${condition === undefined ? "" : `: ${condition}`})`, { target });
      }
      method = "dialback";
    }
    return new S2SConnection(session, { localDomain: options.localDomain, remoteDomain: options.remoteDomain, streamId: streamId ?? "", authentication: method, tls, target });
  } catch (err) {
    session.destroy();
    throw err;
  }
}

/**
 * XEP-0220 §2.2 (receiving server side): ask `remoteDomain`'s authoritative server whether it
 * issued `key` for `streamId`; the stream carries nothing else and is closed afterwards.
 */
export async function verifyDialback(options: VerifyOptions): Promise<VerifyResult> {
  if (options.key.length === 0 || options.key.length > MAX_KEY_LENGTH) throw new S2SError("auth", "the dialback key is empty or too long");
  const { session, tls } = await openStream(options);
  const deadline = Date.now() + options.timeouts.establishmentMs;
  const target = session.target;
  try {
    // XEP-0220 §2.2.1: <db:verify from='receiving' to='originating' id='stream id'>key</db:verify>.
    session.write(xml("db:verify", { from: options.localDomain, to: options.remoteDomain, id: options.streamId }, options.key));
    // Bounded: at most MAX_QUEUED elements can be waiting, and the deadline ends the loop.
    for (let seen = 0; seen < 16; seen++) {
      const answer = await session.nextElement(deadline, "the dialback verification");
      expect(answer, "verify", NS.dialback, "<db:verify/>", target);
      if (answer.attrs.id !== options.streamId) continue;
      if (answer.attrs.from !== options.remoteDomain || answer.attrs.to !== options.localDomain) {
        throw new S2SError("protocol", "the dialback verification is addressed to someone else", { target });
      }
      // XEP-0220 §2.2.2: type valid / invalid (or error).
      const type = answer.attrs.type;
      if (type === "valid" || type === "invalid") {
        session.terminate(undefined);
        return { valid: type === "valid", target, tls };
      }
      const condition = answer.getChild("error")?.getChildElements()[0]?.getName();
      throw new S2SError("auth", `${options.remoteDomain} answered the verification with an error${condition === undefined ? "" : ` (${condition})`}`, { target });
    }
    throw new S2SError("protocol", "too many unrelated verification answers", { target });
  } catch (err) {
    session.destroy();
    throw err;
  }
}
