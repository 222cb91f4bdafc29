/**
 * One socket carrying an XMPP stream we opened: bytes in through the restricted StreamParser,
 * elements out. During negotiation the caller awaits the next header or element (each wait
 * bounded by a deadline); once authenticated, elements are handed to a listener instead.
 */
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { NS, STREAM_CLOSE, StreamError, StreamParser, serialize, streamErrorElement, type Element, type StreamHeader, type StreamParserLimits } from "@passerelle/xmpp";
import { S2SError, streamErrorFromElement } from "./errors.ts";

/** Elements a peer may send before we asked for them, during negotiation. */
const MAX_QUEUED = 16;

export interface SessionListener {
  element(el: Element): void;
  /** The stream ended: `error` says why unless it was an orderly close. Called once. */
  end(error: S2SError | undefined): void;
}

export class StreamSession {
  socket: Socket | TLSSocket;
  private readonly parser: StreamParser;
  private header: StreamHeader | undefined;
  private readonly queue: Element[] = [];
  private failure: S2SError | undefined;
  private peerClosed = false;
  private wake: (() => void) | undefined;
  private listener: SessionListener | undefined;
  private finished = false;
  private closeSent = false;
  private readonly onData = (chunk: Buffer): void => this.parser.write(chunk);
  private readonly onSocketError = (err: Error): void => this.fail(new S2SError("closed", `socket error: ${err.message}`, { target: this.target, cause: err }));
  private readonly onSocketClose = (): void => {
    this.fail(new S2SError("closed", "the connection closed", { target: this.target }));
    this.finish();
  };

  constructor(
    socket: Socket | TLSSocket,
    limits: StreamParserLimits,
    readonly target: string,
  ) {
    this.socket = socket;
    this.parser = new StreamParser(limits, {
      onStreamStart: (header) => {
        this.header = header;
        this.poke();
      },
      onElement: (el) => this.element(el),
      onStreamEnd: () => {
        // RFC 6120 §4.4: the peer closed its stream; we close ours.
        this.peerClosed = true;
        this.fail(new S2SError("closed", "the peer closed the stream", { target: this.target }));
        this.terminate(undefined);
      },
      onError: (err) => {
        // RFC 6120 §4.9.1.1: a stream error is sent, then the stream is closed.
        this.fail(new S2SError("protocol", `the peer broke the protocol: ${err.message}`, { streamError: err, target: this.target }));
        this.terminate(err);
      },
    });
    this.attach(socket);
  }

  /** The error that ended the stream, if it has ended. */
  get error(): S2SError | undefined {
    return this.failure;
  }

  get ended(): boolean {
    return this.failure !== undefined;
  }

  private attach(socket: Socket | TLSSocket): void {
    this.socket = socket;
    socket.on("data", this.onData);
    socket.on("error", this.onSocketError);
    socket.on("close", this.onSocketClose);
  }

  /** Stop reading this socket (before wrapping it in TLS); the listeners move to the new one. */
  detach(): Socket | TLSSocket {
    const socket = this.socket;
    socket.off("data", this.onData);
    socket.off("error", this.onSocketError);
    socket.off("close", this.onSocketClose);
    return socket;
  }

  /** Take over a new (TLS) socket; the stream restarts (RFC 6120 §5.4.3.3). */
  reattach(socket: Socket | TLSSocket): void {
    this.attach(socket);
    this.restart();
  }

  /** RFC 6120 §4.3.3: after STARTTLS or SASL the stream restarts: a new header is expected. */
  restart(): void {
    this.parser.reset();
    this.header = undefined;
    this.queue.length = 0;
  }

  write(data: string | Element): boolean {
    if (this.socket.destroyed || !this.socket.writable) return false;
    return this.socket.write(typeof data === "string" ? data : serialize(data));
  }

  /** After authentication: elements go to the listener from now on. */
  listen(listener: SessionListener): void {
    this.listener = listener;
    for (const el of this.queue.splice(0)) listener.element(el);
    if (this.finished) listener.end(this.failure?.kind === "closed" && this.peerClosed ? undefined : this.failure);
  }

  private element(el: Element): void {
    // RFC 6120 §4.9: the peer ends the stream with an error.
    if (el.is("error", NS.streams)) {
      const streamError = streamErrorFromElement(el);
      this.fail(new S2SError("stream-error", `the peer sent a stream error: ${streamError.message}`, { streamError, target: this.target }));
      this.terminate(undefined);
      return;
    }
    if (this.listener !== undefined) {
      this.listener.element(el);
      return;
    }
    if (this.queue.length >= MAX_QUEUED) {
      this.failWithStreamError("policy-violation", "too many unexpected elements during negotiation");
      return;
    }
    this.queue.push(el);
    this.poke();
  }

  private poke(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private fail(error: S2SError): void {
    if (this.failure === undefined) this.failure = error;
    this.poke();
  }

  /** We end the stream because of the peer (RFC 6120 §4.9.1.1). */
  failWithStreamError(condition: StreamError["condition"], text: string): void {
    const err = new StreamError(condition, text);
    this.fail(new S2SError("protocol", `${condition}: ${text}`, { streamError: err, target: this.target }));
    this.terminate(err);
  }

  /** Send our stream error (if any) and close tag, then end the socket; destroyed if the peer lingers. */
  terminate(err: StreamError | undefined, lingerMs = 2000): void {
    if (!this.socket.destroyed) {
      if (err !== undefined) this.write(streamErrorElement(err));
      this.sendClose();
      this.socket.end();
      const timer = setTimeout(() => this.socket.destroy(), lingerMs);
      this.socket.once("close", () => clearTimeout(timer));
    }
    this.finish();
  }

  /** RFC 6120 §4.4: our closing tag, once. */
  sendClose(): void {
    if (this.closeSent) return;
    this.closeSent = true;
    this.write(STREAM_CLOSE);
  }

  destroy(): void {
    this.fail(new S2SError("closed", "closed by us", { target: this.target }));
    this.socket.destroy();
    this.finish();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    const listener = this.listener;
    if (listener !== undefined) listener.end(this.failure?.kind === "closed" && this.peerClosed ? undefined : this.failure);
  }

  /** Wait until `pick` returns something, the stream fails, or the deadline passes. */
  private async until<T>(pick: () => T | undefined, deadline: number, what: string): Promise<T> {
    // Each turn either returns, throws, or waits for an event or the deadline: bounded by the deadline.
    while (true) {
      const value = pick();
      if (value !== undefined) return value;
      if (this.failure !== undefined) throw this.failure;
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new S2SError("timeout", `timed out waiting for ${what}`, { target: this.target });
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** The peer's stream header (RFC 6120 §4.7). */
  nextHeader(deadline: number): Promise<StreamHeader> {
    return this.until(() => this.header, deadline, "the peer's stream header");
  }

  /** The next top-level element. */
  nextElement(deadline: number, what: string): Promise<Element> {
    return this.until(() => this.queue.shift(), deadline, what);
  }
}
