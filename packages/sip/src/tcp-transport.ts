/**
 * SIP over TCP (RFC 3261 §18): a listening socket plus outgoing connections, one per peer, reused
 * in both directions (responses go back on the connection the request came on, §18.2.2).
 * Each connection has a framer with the message limits, an idle timeout and a cap on their number.
 */
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { SipParseError } from "./errors.ts";
import { StreamFramer } from "./framer.ts";
import { DEFAULT_LIMITS, type SipLimits } from "./message.ts";
import type { Peer, SipTransport, TransportEvents } from "./transport.ts";

export interface TcpTransportOptions {
  host: string;
  port: number;
  limits?: SipLimits;
  /** Close a connection idle this long (default 5 minutes). */
  idleTimeoutMs?: number;
  /** Most connections at once, in and out (default 1000). */
  maxConnections?: number;
  /** How long to wait for an outgoing connection (default 5 s). */
  connectTimeoutMs?: number;
}

const key = (p: Peer): string => `${p.host}|${p.port}`;

export class TcpTransport implements SipTransport {
  readonly protocol = "TCP" as const;
  readonly reliable = true;
  private readonly connections = new Map<string, Socket>();
  private readonly connecting = new Map<string, Promise<Socket>>();

  private constructor(
    private readonly server: Server,
    readonly local: Peer,
    private readonly options: Required<Omit<TcpTransportOptions, "host" | "port">>,
    private readonly events: TransportEvents,
  ) {}

  static async listen(options: TcpTransportOptions, events: TransportEvents): Promise<TcpTransport> {
    const full = {
      limits: options.limits ?? DEFAULT_LIMITS,
      idleTimeoutMs: options.idleTimeoutMs ?? 300_000,
      maxConnections: options.maxConnections ?? 1000,
      connectTimeoutMs: options.connectTimeoutMs ?? 5000,
    };
    const holder: { transport?: TcpTransport } = {};
    const server = createServer((socket) => {
      if (holder.transport) holder.transport.adopt(socket);
      else socket.destroy();
    });
    server.on("error", () => {});
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port, options.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("TCP server has no address");
    holder.transport = new TcpTransport(server, { host: address.address, port: address.port }, full, events);
    return holder.transport;
  }

  async send(data: Buffer, target: Peer): Promise<void> {
    const socket = this.connections.get(key(target)) ?? (await this.connect(target));
    await new Promise<void>((resolve, reject) => {
      socket.write(data, (err) => (err ? reject(err) : resolve()));
    });
  }

  async close(): Promise<void> {
    for (const socket of this.connections.values()) socket.destroy();
    this.connections.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  private connect(target: Peer): Promise<Socket> {
    const k = key(target);
    const existing = this.connecting.get(k);
    if (existing) return existing;
    if (this.connections.size >= this.options.maxConnections) {
      return Promise.reject(new Error(`TCP connection limit ${this.options.maxConnections} reached`));
    }
    const attempt = new Promise<Socket>((resolve, reject) => {
      const socket = createConnection({ host: target.host, port: target.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${target.host}:${target.port} timed out`));
      }, this.options.connectTimeoutMs);
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.off("error", onError);
        this.adopt(socket, target);
        resolve(socket);
      });
      const onError = (err: Error): void => {
        clearTimeout(timer);
        reject(err);
      };
      socket.once("error", onError);
    });
    this.connecting.set(k, attempt);
    const done = (): void => {
      this.connecting.delete(k);
    };
    attempt.then(done, done);
    return attempt;
  }

  /** Take a connected socket into the pool and read messages from it. */
  private adopt(socket: Socket, peer?: Peer): void {
    const remote = peer ?? { host: socket.remoteAddress ?? "", port: socket.remotePort ?? 0 };
    const k = key(remote);
    if (!peer && this.connections.size >= this.options.maxConnections) {
      socket.destroy();
      return;
    }
    this.connections.get(k)?.destroy();
    this.connections.set(k, socket);
    socket.setNoDelay(true);
    socket.setTimeout(this.options.idleTimeoutMs, () => socket.destroy());
    const framer = new StreamFramer(this.options.limits);
    socket.on("data", (chunk: Buffer) => {
      let messages;
      try {
        messages = framer.push(chunk);
      } catch (err) {
        this.events.refused(err instanceof SipParseError ? err : new SipParseError("bad-header", String(err)), remote);
        socket.destroy();
        return;
      }
      for (const m of messages) this.events.message(m, remote);
    });
    socket.on("error", () => socket.destroy());
    socket.on("close", () => {
      if (this.connections.get(k) === socket) this.connections.delete(k);
    });
  }
}
