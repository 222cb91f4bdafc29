/** Sending one DNS message to a server: UDP with bounded retries, TCP when the answer is truncated (RFC 1035 §4.2, RFC 7766). */
import { createSocket } from "node:dgram";
import { Socket } from "node:net";

export interface TransportOptions {
  readonly host: string;
  readonly port: number;
  /** Per try. */
  readonly timeoutMs?: number;
  /** UDP tries before giving up. */
  readonly tries?: number;
}

const MAX_UDP = 65535;

/** One UDP exchange: resolves with the first answer whose ID matches, or undefined on timeout. */
function udpOnce(message: Buffer, options: TransportOptions, timeoutMs: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(options.host.includes(":") ? "udp6" : "udp4");
    const id = message.readUInt16BE(0);
    const done = (value: Buffer | undefined, err?: Error): void => {
      clearTimeout(timer);
      socket.close();
      if (err !== undefined) reject(err);
      else resolve(value);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    socket.on("error", (err) => done(undefined, err));
    socket.on("message", (answer) => {
      if (answer.length >= 12 && answer.length <= MAX_UDP && answer.readUInt16BE(0) === id) done(answer);
    });
    socket.send(message, options.port, options.host, (err) => {
      if (err) done(undefined, err);
    });
  });
}

/** RFC 1035 §4.2.2: over TCP each message is prefixed with its two-byte length. */
export function tcpExchange(message: Buffer, options: TransportOptions): Promise<Buffer> {
  const timeoutMs = options.timeoutMs ?? 3000;
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    let received = Buffer.alloc(0);
    const finish = (err: Error | undefined, value?: Buffer): void => {
      socket.destroy();
      if (err !== undefined) reject(err);
      else if (value !== undefined) resolve(value);
    };
    socket.setTimeout(timeoutMs, () => finish(new Error(`DNS over TCP to ${options.host}:${options.port}: no answer within ${timeoutMs} ms`)));
    socket.on("error", (err) => finish(err));
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= 2) {
        const length = received.readUInt16BE(0);
        if (received.length >= 2 + length) finish(undefined, received.subarray(2, 2 + length));
      }
    });
    socket.on("end", () => finish(new Error(`DNS over TCP to ${options.host}:${options.port}: closed before a full answer`)));
    socket.connect(options.port, options.host, () => {
      const prefix = Buffer.alloc(2);
      prefix.writeUInt16BE(message.length);
      socket.write(Buffer.concat([prefix, message]));
    });
  });
}

/** Sends over UDP (bounded tries); a truncated answer (TC) makes it ask again over TCP. */
export async function exchange(message: Buffer, options: TransportOptions): Promise<{ answer: Buffer; transport: "udp" | "tcp" }> {
  const tries = options.tries ?? 3;
  const timeoutMs = options.timeoutMs ?? 2000;
  if (message.length > 512) return { answer: await tcpExchange(message, options), transport: "tcp" };
  for (let i = 0; i < tries; i++) {
    const answer = await udpOnce(message, options, timeoutMs);
    if (answer === undefined) continue;
    // RFC 1035 §4.1.1: TC set → the answer did not fit; RFC 7766 §5: retry over TCP.
    if ((answer.readUInt16BE(2) & 0x0200) !== 0) return { answer: await tcpExchange(message, options), transport: "tcp" };
    return { answer, transport: "udp" };
  }
  throw new Error(`no answer from ${options.host}:${options.port} after ${tries} UDP tries of ${timeoutMs} ms`);
}
