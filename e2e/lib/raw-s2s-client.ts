// A deliberately raw server-to-server client for hostile-input tests: it writes exactly the bytes
// it is given (broken XML, DTDs, invalid UTF-8…), can still do the well-behaved parts of a
// negotiation (STARTTLS, SASL EXTERNAL, RFC 6120 §5 / XEP-0178) when a case needs an
// authenticated stream first, and reads what the server answers with the project's stream parser.
// Every wait is bounded; the socket is destroyed on every path by destroy().
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { NS, StreamParser, streamHeader, type Element } from "@passerelle/xmpp";

export interface ReceivedStreamError {
  /** The defined condition (RFC 6120 §4.9.3), e.g. "policy-violation". */
  condition: string;
  text: string | undefined;
  /** An application-specific condition (e.g. XEP-0182's stanza-too-big) and its namespace. */
  appCondition: string | undefined;
  appNamespace: string | undefined;
}

export interface HeaderOptions {
  from?: string;
  to?: string;
  version?: string;
}

export interface TlsIdentity {
  cert: Buffer;
  key: Buffer;
  ca: Buffer;
}

/** The header a well-behaved s2s peer sends (with the dialback namespace declared). */
export function s2sHeader(options: HeaderOptions): string {
  return streamHeader({
    ...(options.from === undefined ? {} : { from: options.from }),
    ...(options.to === undefined ? {} : { to: options.to }),
    version: options.version ?? "1.0",
    dialback: true,
  });
}

const LIMITS = { maxStanzaBytes: 1024 * 1024, maxDepth: 64, maxAttributesPerElement: 64, maxHeaderBytes: 16384 };

export class RawS2SClient {
  private socket: Socket;
  private parser!: StreamParser;
  private readonly elements: Element[] = [];
  private waiters: (() => void)[] = [];
  private closedFlag = false;
  private readonly closedPromise: Promise<void>;
  /** Every decoded byte the server sent (on the current socket layer), for diagnostics. */
  transcript = "";
  header: Record<string, string> | undefined;
  /** A problem parsing what the server sent (the server should never send bad XML). */
  parseProblem: string | undefined;

  private constructor(socket: Socket) {
    this.socket = socket;
    this.resetParser();
    this.closedPromise = new Promise((resolve) => {
      socket.once("close", () => {
        this.closedFlag = true;
        this.wake();
        resolve();
      });
    });
    socket.on("error", () => undefined);
    this.attach(socket);
  }

  static connect(host: string, port: number, timeoutMs = 5000): Promise<RawS2SClient> {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${host}:${port} timed out`));
      }, timeoutMs);
      socket.once("connect", () => {
        clearTimeout(timer);
        resolve(new RawS2SClient(socket));
      });
      socket.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Writes bytes exactly as given. */
  send(data: string | Buffer): void {
    if (!this.socket.destroyed) this.socket.write(data);
  }

  /** Writes a well-formed s2s stream header. */
  openStream(options: HeaderOptions): void {
    this.send(s2sHeader(options));
  }

  /** The next element (from the server's stream) matching `predicate`, received after the ones already taken. */
  async nextElement(predicate: (el: Element) => boolean, timeoutMs: number, what = "an element"): Promise<Element> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.elements.findIndex(predicate);
      if (index >= 0) {
        const [el] = this.elements.splice(0, index + 1).slice(-1);
        if (el !== undefined) return el;
      }
      if (this.closedFlag) throw new Error(`connection closed while waiting for ${what}; received: ${this.transcript.slice(-600)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; received: ${this.transcript.slice(-600)}`);
      await this.waitForActivity(left);
    }
  }

  /** Waits for the server's <stream:error/> and returns what it says. */
  async streamError(timeoutMs: number): Promise<ReceivedStreamError> {
    const el = await this.nextElement((e) => e.is("error", NS.streams), timeoutMs, "a stream error");
    const children = el.getChildElements();
    const defined = children.find((c) => c.getNS() === NS.streamErrors && c.getName() !== "text");
    const app = children.find((c) => c.getNS() !== NS.streamErrors);
    return {
      condition: defined?.getName() ?? "(none)",
      text: el.getChildText("text", NS.streamErrors) ?? undefined,
      appCondition: app?.getName(),
      appNamespace: app?.getNS(),
    };
  }

  /** Resolves when the server has closed the connection; rejects after `timeoutMs`. */
  async waitClosed(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.closedPromise,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`the server did not close the connection within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Header, features, STARTTLS and the restarted stream's features (RFC 6120 §5.4). */
  async startTls(options: { from: string; to: string; identity: TlsIdentity; timeoutMs: number; pipelined?: string }): Promise<Element> {
    this.openStream({ from: options.from, to: options.to });
    await this.nextElement((e) => e.is("features", NS.streams), options.timeoutMs, "stream features");
    // `pipelined`: plaintext sent in the same write as <starttls/> (a STARTTLS injection attempt).
    this.send(`<starttls xmlns='${NS.tls}'/>${options.pipelined ?? ""}`);
    await this.nextElement((e) => e.is("proceed", NS.tls), options.timeoutMs, "<proceed/>");
    const raw = this.socket;
    raw.removeAllListeners("data");
    const secure: TLSSocket = tlsConnect({
      socket: raw,
      servername: options.to,
      cert: options.identity.cert,
      key: options.identity.key,
      ca: options.identity.ca,
      rejectUnauthorized: true,
      checkServerIdentity: () => undefined,
      minVersion: "TLSv1.2",
    });
    secure.on("error", () => undefined);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("TLS handshake timed out")), options.timeoutMs);
      secure.once("secureConnect", () => {
        clearTimeout(timer);
        resolve();
      });
      secure.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    this.socket = secure;
    this.restart();
    this.attach(secure);
    this.openStream({ from: options.from, to: options.to });
    return this.nextElement((e) => e.is("features", NS.streams), options.timeoutMs, "stream features after TLS");
  }

  /** STARTTLS then SASL EXTERNAL (XEP-0178) as `from`; resolves on the post-SASL stream's features. */
  async authenticate(options: { from: string; to: string; identity: TlsIdentity; timeoutMs: number }): Promise<void> {
    await this.startTls(options);
    this.send(`<auth xmlns='${NS.sasl}' mechanism='EXTERNAL'>${Buffer.from(options.from).toString("base64")}</auth>`);
    const answer = await this.nextElement((e) => e.getNS() === NS.sasl, options.timeoutMs, "the SASL answer");
    if (!answer.is("success", NS.sasl)) throw new Error(`SASL EXTERNAL refused: ${answer.toString()}`);
    this.restart();
    this.openStream({ from: options.from, to: options.to });
    await this.nextElement((e) => e.is("features", NS.streams), options.timeoutMs, "stream features after SASL");
  }

  destroy(): void {
    this.socket.destroy();
  }

  private attach(socket: Socket): void {
    socket.on("data", (chunk: Buffer) => {
      this.transcript += chunk.toString("utf8");
      this.parser.write(chunk);
      this.wake();
    });
  }

  private restart(): void {
    this.elements.length = 0;
    this.transcript = "";
    this.header = undefined;
    this.resetParser();
  }

  private resetParser(): void {
    this.parser = new StreamParser(LIMITS, {
      onStreamStart: (header) => {
        this.header = header.attrs;
      },
      onElement: (el) => {
        this.elements.push(el);
      },
      onStreamEnd: () => undefined,
      onError: (err) => {
        this.parseProblem = err.message;
      },
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  private waitForActivity(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.waiters.push(done);
    });
  }
}
