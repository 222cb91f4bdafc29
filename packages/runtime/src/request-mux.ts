/**
 * Request/reply for the hot path, one per NATS connection (`requestMux(nc)`): one wildcard inbox
 * subscription, a map of pending requests and one sweeping timer for the deadlines. The NATS
 * client's own `request` builds an Error (with a stack) to reject an already answered request and
 * arms a timer per request — a measurable share of policy's and the edge's CPU per stanza in
 * bench/inbound.ts. Answers, "no responders" (a 503 status from the server) and timeouts are
 * reported as with `nc.request`.
 */
import { createInbox, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from "@nats-io/transport-node";

export class RequestTimeoutError extends Error {
  override name = "RequestTimeoutError";
}
export class NoRespondersError extends Error {
  override name = "NoRespondersError";
}

interface Pending {
  resolve(msg: Msg): void;
  reject(err: Error): void;
  deadline: number;
  subject: string;
}

/** How often deadlines are checked (a request fails at most this much after its timeout). */
const SWEEP_MS = 50;

export class RequestMux {
  private readonly prefix: string;
  private sub: Subscription | undefined;
  private seq = 0;
  private readonly pending = new Map<string, Pending>();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly nc: NatsConnection) {
    this.prefix = `${createInbox()}.`;
  }

  get inFlight(): number {
    return this.pending.size;
  }

  request(subject: string, data: Uint8Array, options: { timeoutMs: number; headers?: MsgHdrs | undefined }): Promise<Msg> {
    if (this.nc.isClosed()) return Promise.reject(new Error("connection closed"));
    this.sub ??= this.nc.subscribe(`${this.prefix}*`, { callback: (err, msg) => (err === null ? this.answer(msg) : this.failAll(err)) });
    const token = (this.seq = (this.seq + 1) % Number.MAX_SAFE_INTEGER).toString(36);
    const reply = this.prefix + token;
    return new Promise<Msg>((resolve, reject) => {
      this.pending.set(token, { resolve, reject, deadline: Date.now() + options.timeoutMs, subject });
      this.sweeper ??= setInterval(() => this.sweep(), SWEEP_MS).unref();
      try {
        this.nc.publish(subject, data, options.headers === undefined ? { reply } : { reply, headers: options.headers });
      } catch (err) {
        this.pending.delete(token);
        reject(err as Error);
      }
    });
  }

  private answer(msg: Msg): void {
    const token = msg.subject.slice(this.prefix.length);
    const waiting = this.pending.get(token);
    if (waiting === undefined) return; // late answer after a timeout
    this.pending.delete(token);
    if (msg.data.length === 0 && msg.headers?.code === 503) waiting.reject(new NoRespondersError(`no responders on ${waiting.subject}`));
    else waiting.resolve(msg);
    if (this.pending.size === 0) this.stopSweeping();
  }

  private sweep(): void {
    const now = Date.now();
    for (const [token, waiting] of this.pending) {
      if (waiting.deadline <= now) {
        this.pending.delete(token);
        waiting.reject(new RequestTimeoutError(`no answer on ${waiting.subject} in time`));
      }
    }
    if (this.pending.size === 0) this.stopSweeping();
  }

  private stopSweeping(): void {
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  private failAll(err: Error): void {
    for (const waiting of this.pending.values()) waiting.reject(err);
    this.pending.clear();
    this.stopSweeping();
    this.sub = undefined;
  }
}

const muxes = new WeakMap<NatsConnection, RequestMux>();

/** The request multiplexer of a connection (created on first use). */
export function requestMux(nc: NatsConnection): RequestMux {
  let mux = muxes.get(nc);
  if (mux === undefined) {
    mux = new RequestMux(nc);
    muxes.set(nc, mux);
  }
  return mux;
}
