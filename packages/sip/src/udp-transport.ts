/** SIP over UDP (RFC 3261 §18): one datagram is one message. */
import { createSocket, type Socket } from "node:dgram";
import { SipParseError } from "./errors.ts";
import { DEFAULT_LIMITS, parseMessage, type SipLimits } from "./message.ts";
import type { Peer, SipTransport, TransportEvents } from "./transport.ts";

export interface UdpTransportOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  limits?: SipLimits;
}

export class UdpTransport implements SipTransport {
  readonly protocol = "UDP" as const;
  readonly reliable = false;
  private constructor(
    private readonly socket: Socket,
    readonly local: Peer,
  ) {}

  static async listen(options: UdpTransportOptions, events: TransportEvents): Promise<UdpTransport> {
    const limits = options.limits ?? DEFAULT_LIMITS;
    const socket = createSocket({ type: options.host.includes(":") ? "udp6" : "udp4" });
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(options.port, options.host, () => {
        socket.off("error", reject);
        resolve();
      });
    });
    socket.on("error", () => {
      // ICMP errors and the like surface on send(); nothing to do here but not crash.
    });
    socket.on("message", (data, rinfo) => {
      const source = { host: rinfo.address, port: rinfo.port };
      // RFC 3261 §7.5 / RFC 5626 §3.5.1: a datagram of only CRLFs is a keepalive.
      if (data.every((b) => b === 0x0d || b === 0x0a)) return;
      let message;
      try {
        message = parseMessage(data, { limits, framing: "datagram" });
      } catch (err) {
        if (err instanceof SipParseError) events.refused(err, source);
        else events.refused(new SipParseError("bad-header", String(err)), source);
        return;
      }
      events.message(message, source);
    });
    const address = socket.address();
    return new UdpTransport(socket, { host: address.address, port: address.port });
  }

  send(data: Buffer, target: Peer): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.send(data, target.port, target.host, (err) => (err ? reject(err) : resolve()));
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }
}
