/** What the endpoint needs from a transport; the socket code lives in udp-transport.ts and tcp-transport.ts. */
import type { SipParseError } from "./errors.ts";
import type { SipMessage } from "./message.ts";

export interface Peer {
  host: string;
  port: number;
}

export interface TransportEvents {
  message(message: SipMessage, source: Peer): void;
  /** A message or stream that had to be refused; the transport has already dropped it (and closed a TCP connection). */
  refused(error: SipParseError, source: Peer): void;
}

export interface SipTransport {
  /** "UDP" or "TCP", as written in Via. */
  readonly protocol: "UDP" | "TCP";
  /** Reliable transports need no retransmissions (RFC 3261 §17.1.2.2). */
  readonly reliable: boolean;
  /** The address and port we listen on (used in Via sent-by and Contact). */
  readonly local: Peer;
  /** Send bytes to a peer; rejects on a transport error (unreachable, connection refused…). */
  send(data: Buffer, target: Peer): Promise<void>;
  close(): Promise<void>;
}
