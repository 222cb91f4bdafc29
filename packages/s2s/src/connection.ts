/**
 * An authenticated outbound s2s stream: send stanzas, receive elements, close cleanly
 * (RFC 6120 §4.4). Events: "element" (each top-level element the peer sends), "error" (an
 * S2SError: the peer's stream error, a protocol violation, a socket error) and "close" (once).
 */
import { EventEmitter } from "node:events";
import type { Element, StreamError } from "@passerelle/xmpp";
import type { S2SError } from "./errors.ts";
import type { StreamSession } from "./stream-session.ts";

export type AuthMethod = "sasl-external" | "dialback";

export interface TlsInfo {
  protocol: string;
  /** The chain verified against our CAs. */
  trusted: boolean;
  /** RFC 9525: the certificate names the remote domain. */
  identityMatches: boolean;
  /** What was wrong with the certificate, when something was (policy "report"). */
  problem?: string;
}

export interface ConnectionInfo {
  localDomain: string;
  remoteDomain: string;
  /** The id the receiving server gave the (last, restarted) stream. */
  streamId: string;
  authentication: AuthMethod;
  /** Undefined when the stream is not encrypted. */
  tls: TlsInfo | undefined;
  /** "host:port" connected to. */
  target: string;
}

export interface S2SConnectionEvents {
  element: [el: Element];
  error: [err: S2SError];
  close: [info: { error?: S2SError }];
}

export class S2SConnection extends EventEmitter<S2SConnectionEvents> implements ConnectionInfo {
  readonly localDomain: string;
  readonly remoteDomain: string;
  readonly streamId: string;
  readonly authentication: AuthMethod;
  readonly tls: TlsInfo | undefined;
  readonly target: string;
  private closedFlag = false;
  private closing: Promise<void> | undefined;
  private resolveClosed: (() => void) | undefined;
  private readonly closedPromise: Promise<void>;

  constructor(
    private readonly session: StreamSession,
    info: ConnectionInfo,
  ) {
    super();
    this.localDomain = info.localDomain;
    this.remoteDomain = info.remoteDomain;
    this.streamId = info.streamId;
    this.authentication = info.authentication;
    this.tls = info.tls;
    this.target = info.target;
    this.closedPromise = new Promise((resolve) => (this.resolveClosed = resolve));
    // Listen on the next turn, so the caller can attach its handlers first.
    setImmediate(() =>
      session.listen({
        element: (el) => this.emit("element", el),
        end: (error) => {
          if (this.closedFlag) return;
          this.closedFlag = true;
          // "error" without a listener would throw: only emit it to someone listening.
          if (error !== undefined && this.listenerCount("error") > 0) this.emit("error", error);
          this.emit("close", error === undefined ? {} : { error });
          this.resolveClosed?.();
        },
      }),
    );
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Send a stanza (an element, or XML already serialized by a trusted builder). False when closed or when the socket buffer is full. */
  send(stanza: Element | string): boolean {
    if (this.closedFlag || this.closing !== undefined) return false;
    return this.session.write(stanza);
  }

  /** RFC 6120 §4.6.1: a whitespace keepalive. */
  keepalive(): boolean {
    return this.send(" ");
  }

  /** Bytes waiting in the socket's write buffer (backpressure). */
  get bufferedBytes(): number {
    return this.session.socket.writableLength;
  }

  /** RFC 6120 §4.4: send </stream:stream>, wait (bounded) for the peer's, then close the socket. */
  close(timeoutMs = 5000): Promise<void> {
    if (this.closedFlag) return Promise.resolve();
    this.closing ??= (async () => {
      this.session.sendClose();
      const timer = setTimeout(() => this.session.destroy(), timeoutMs);
      try {
        await this.closedPromise;
      } finally {
        clearTimeout(timer);
        this.session.socket.destroy();
      }
    })();
    return this.closing;
  }

  /** RFC 6120 §4.9: end the stream with our stream error (e.g. policy-violation when the partner entry changed), then close. */
  closeWithError(condition: StreamError["condition"], text: string): void {
    if (this.closedFlag) return;
    this.session.failWithStreamError(condition, text);
  }

  /** Close at once, without the closing handshake. */
  destroy(): void {
    this.session.destroy();
  }
}
