/**
 * The message bus as services use it: typed publish / request / reply over core NATS. A message
 * of a sampled trace carries the W3C trace context in its headers and each hop is a span; an
 * unsampled one carries no header and makes no span (ADR 0011). Bad payloads are refused with a
 * log line and a metric, never half-processed.
 */
import { SpanKind, SpanStatusCode, type Span } from "@opentelemetry/api";
import { headers as natsHeaders, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { ContractError, decode, encode } from "@passerelle/contracts";
import { requestMux, type RequestMux } from "./request-mux.ts";
import { Counter, injectTraceContext, isSampled, sampledContext, startChildSpan, withSpan, type Logger, type Registry } from "@passerelle/telemetry";

export interface BusOptions {
  nats: NatsConnection;
  log: Logger;
  metrics: Registry;
}

export type Payload = { v: number };

export class Bus {
  readonly nats: NatsConnection;
  private readonly log: Logger;
  private readonly mux: RequestMux;
  /** The counter's children by label values: prom-client hashes a label object on every inc otherwise. */
  private readonly counted = new Map<string, { inc(): void }>();
  private readonly messages: Counter<"subject" | "direction" | "outcome">;

  constructor(options: BusOptions) {
    this.nats = options.nats;
    this.log = options.log;
    this.mux = requestMux(options.nats);
    this.messages = new Counter({
      name: "passerelle_bus_messages_total",
      help: "NATS messages by subject, direction (out, in) and outcome",
      labelNames: ["subject", "direction", "outcome"],
      registers: [options.metrics],
    });
  }

  /** Headers carrying the active trace context when it is sampled; undefined when there is nothing to carry. */
  headers(): MsgHdrs | undefined {
    if (!isSampled()) return undefined;
    const h = natsHeaders();
    injectTraceContext(h);
    return h;
  }

  publish<T extends Payload>(subject: string, payload: T): void {
    const headers = this.headers();
    this.nats.publish(subject, encode(payload), headers === undefined ? undefined : { headers });
    this.count(subject, "out", "published");
  }

  /** Request/reply with a timeout; the reply is decoded and checked. */
  async request<Req extends Payload, Rep extends Payload>(
    subject: string,
    payload: Req,
    required: readonly (keyof Rep & string)[],
    timeoutMs: number,
  ): Promise<Rep> {
    const span = startChildSpan(`request ${subject}`, { kind: SpanKind.CLIENT, attributes: { "messaging.system": "nats", "messaging.destination.name": subject } });
    try {
      const msg = await withSpan(span, () => {
        const headers = this.headers();
        return this.mux.request(subject, encode(payload), { timeoutMs, headers });
      });
      const reply = decode<Rep>(msg.data, required);
      this.count(subject, "out", "answered");
      return reply;
    } catch (err) {
      this.count(subject, "out", "failed");
      span?.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span?.end();
    }
  }

  /**
   * Serve requests on `subject` in queue group `queue` (one replica answers each request).
   * The handler runs inside a span whose parent is the requester's trace.
   */
  reply<Req extends Payload, Rep extends Payload>(
    subject: string,
    queue: string,
    required: readonly (keyof Req & string)[],
    handler: (request: Req, msg: Msg) => Promise<Rep>,
  ): Subscription {
    return this.nats.subscribe(subject, {
      queue,
      callback: (err, msg) => {
        if (err !== null) {
          this.log.error({ err, subject }, "subscription failed");
          return;
        }
        void this.handle(subject, msg, required, async (request) => {
          const answer = await handler(request, msg);
          msg.respond(encode(answer));
        });
      },
    });
  }

  /** Consume `subject` (optionally in a queue group) without replying. */
  subscribe<T extends Payload>(
    subject: string,
    queue: string | undefined,
    required: readonly (keyof T & string)[],
    handler: (payload: T, msg: Msg) => Promise<void> | void,
  ): Subscription {
    return this.nats.subscribe(subject, {
      ...(queue === undefined ? {} : { queue }),
      callback: (err, msg) => {
        if (err !== null) {
          this.log.error({ err, subject }, "subscription failed");
          return;
        }
        void this.handle(subject, msg, required, async (payload) => handler(payload, msg));
      },
    });
  }

  private count(subject: string, direction: "in" | "out", outcome: string): void {
    const label = metricSubject(subject);
    const key = `${label} ${direction} ${outcome}`;
    let child = this.counted.get(key);
    if (child === undefined) {
      child = this.messages.labels({ subject: label, direction, outcome });
      this.counted.set(key, child);
    }
    child.inc();
  }

  private async handle<T extends Payload>(
    subject: string,
    msg: Msg,
    required: readonly (keyof T & string)[],
    work: (payload: T) => Promise<void>,
  ): Promise<void> {
    const parent = msg.headers === undefined ? undefined : sampledContext(msg.headers);
    if (parent === undefined) return this.process(subject, msg, required, work, undefined);
    const span = startChildSpan(`process ${subject}`, { kind: SpanKind.CONSUMER, attributes: { "messaging.system": "nats", "messaging.destination.name": subject } }, parent);
    return withSpan(span, () => this.process(subject, msg, required, work, span), parent);
  }

  private async process<T extends Payload>(
    subject: string,
    msg: Msg,
    required: readonly (keyof T & string)[],
    work: (payload: T) => Promise<void>,
    span: Span | undefined,
  ): Promise<void> {
    try {
      const payload = decode<T>(msg.data, required);
      await work(payload);
      this.count(subject, "in", "handled");
    } catch (err) {
      const refused = err instanceof ContractError;
      this.count(subject, "in", refused ? "refused" : "error");
      span?.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      this.log.error({ err, subject }, refused ? "refused a malformed message" : "handling a message failed");
    } finally {
      span?.end();
    }
  }
}

/** Subjects with a domain suffix are folded into one metric label. */
function metricSubject(subject: string): string {
  return subject.startsWith("passerelle.v1.inbound.") ? "passerelle.v1.inbound.*" : subject;
}
