// The lean s2s client of bench/idle-connections.ts: opens N authenticated, idle server-to-server
// streams (TCP → header → STARTTLS → TLS with a client certificate → header → SASL EXTERNAL →
// header → features) and holds them. Regular expressions over the server's bytes, no XML parser:
// the client has to hold N TLS sockets itself. Used in-process (against our edge) and from
// idle-s2s-client-main.ts (a child process inside the peers' network namespace).
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect, type TLSSocket } from "node:tls";

export interface ClientIdentity {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer;
}

export interface IdleTarget {
  readonly host: string;
  readonly port: number;
  /** The server's domain (stream `to`, TLS servername). */
  readonly to: string;
  /** Our domain for connection `i` (stream `from`; must be covered by the client certificate). */
  readonly from: (i: number) => string;
  /** Local source addresses, used round robin. */
  readonly sources: readonly string[];
  readonly identity: ClientIdentity;
}

const FEATURES_END = /<\/stream:features>|<stream:features\s*\/>/;

const header = (from: string, to: string): string =>
  `<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='${from}' to='${to}' version='1.0'>`;

/** Waits until `pattern` shows up in what the socket sends (bounded), then returns. */
function expect(socket: Socket, pattern: RegExp, what: string, timeoutMs = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => finish(new Error(`timed out waiting for ${what}; received: ${seen.slice(-300)}`)), timeoutMs);
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString("utf8");
      if (/<stream:error|<failure/.test(seen)) finish(new Error(`error while waiting for ${what}: ${seen.slice(-300)}`));
      else if (pattern.test(seen)) finish();
    };
    const onClose = (): void => finish(new Error(`closed while waiting for ${what}; received: ${seen.slice(-300)}`));
    function finish(err?: Error): void {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("close", onClose);
      if (err === undefined) resolve();
      else reject(err);
    }
    socket.on("data", onData);
    socket.once("close", onClose);
  });
}

/** One authenticated, idle connection (STARTTLS + SASL EXTERNAL); resolves to the TLS socket. */
export async function openOne(target: IdleTarget, i: number): Promise<TLSSocket> {
  const source = target.sources[i % Math.max(target.sources.length, 1)];
  const raw = netConnect({ host: target.host, port: target.port, ...(source === undefined ? {} : { localAddress: source }) });
  raw.on("error", () => undefined);
  const hdr = header(target.from(i), target.to);
  try {
    await new Promise<void>((resolve, reject) => {
      raw.once("connect", () => resolve());
      raw.once("error", reject);
    });
    const features = expect(raw, FEATURES_END, "features");
    raw.write(hdr);
    await features;
    const proceed = expect(raw, /<proceed/, "<proceed/>");
    raw.write("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    await proceed;
    const { cert, key, ca } = target.identity;
    const secure = tlsConnect({ socket: raw, servername: target.to, cert, key, ca, checkServerIdentity: () => undefined });
    secure.on("error", () => undefined);
    await new Promise<void>((resolve, reject) => {
      secure.once("secureConnect", () => resolve());
      secure.once("error", reject);
    });
    const tlsFeatures = expect(secure, FEATURES_END, "features after TLS");
    secure.write(hdr);
    await tlsFeatures;
    const success = expect(secure, /<success/, "SASL success");
    secure.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>`);
    await success;
    const finalFeatures = expect(secure, FEATURES_END, "features after SASL");
    secure.write(hdr);
    await finalFeatures;
    return secure;
  } catch (err) {
    raw.destroy();
    throw err;
  }
}

/** Opens `count` connections, `concurrency` at a time; returns the open sockets and the failures. */
export async function openMany(
  target: IdleTarget,
  count: number,
  concurrency: number,
  progress: (line: string) => void = () => undefined,
): Promise<{ sockets: TLSSocket[]; failures: string[] }> {
  const sockets: TLSSocket[] = [];
  const failures: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      try {
        sockets.push(await openOne(target, i));
      } catch (err) {
        failures.push((err as Error).message);
      }
      if (sockets.length > 0 && sockets.length % 1000 === 0 && sockets.length + failures.length === i + 1) progress(`  … ${sockets.length} open`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { sockets, failures };
}
