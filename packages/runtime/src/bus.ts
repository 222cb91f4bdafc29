/**
 * The message bus as services use it: typed publish / request / reply over core NATS, every
 * message carrying the W3C trace context in its headers and every hop a span. Bad payloads are
 * refused with a log line and a metric, never half-processed.
 */
import { SpanKind, SpanStatusCode, context, trace } from "@opentelemetry/api";
import { headers as natsHeaders, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { ContractError, decode, encode } from "@passerelle/contracts";
import { Counter, extractTraceContext, injectTraceContext, tracer, type Logger, type Registry } from "@passerelle/telemetry";

export interface BusOptions {
  nats: NatsConnection;
  log: Logger;
  metrics: Registry;
}

export type Payload = { v: number };

export class Bus {
  readonly nats: NatsConnection;
  private readonly log: Logger;
  private readonly messages: Counter<"subject" | "direction" | "outcome">;

  constructor(options: BusOptions) {
    this.nats = options.nats;
    this.log = options.log;
    this.messages = new Counter({
      name: "passerelle_bus_messages_total",
      help: "NATS messages by subject, direction (out, in) and outcome",
      labelNames: ["subject", "direction", "outcome"],
      registers: [options.metrics],
    });
  }

  /** Headers carrying the active trace context, plus any extra ones. */
  headers(extra: Record<string, string> = {}): MsgHdrs {
    const h = natsHeaders();
    injectTraceContext(h);
    for (const [k, v] of Object.entries(extra)) h.set(k, v);
    return h;
  }

  publish<T extends Payload>(subject: string, payload: T): void {
    this.nats.publish(subject, encode(payload), { headers: this.headers() });
    this.messages.inc({ subject: metricSubject(subject), direction: "out", outcome: "published" });
  }

  /** Request/reply with a timeout; the reply is decoded and checked. */
  async request<Req extends Payload, Rep extends Payload>(
    subject: string,
    payload: Req,
    required: readonly (keyof Rep & string)[],
    timeoutMs: number,
  ): Promise<Rep> {
    const span = tracer().startSpan(`request ${subject}`, { kind: SpanKind.CLIENT, attributes: { "messaging.system": "nats", "messaging.destination.name": subject } });
    try {
      const msg = await context.with(trace.setSpan(context.active(), span), () =>
        this.nats.request(subject, encode(payload), { timeout: timeoutMs, headers: this.headers() }),
      );
      const reply = decode<Rep>(msg.data, required);
      this.messages.inc({ subject: metricSubject(subject), direction: "out", outcome: "answered" });
      return reply;
    } catch (err) {
      this.messages.inc({ subject: metricSubject(subject), direction: "out", outcome: "failed" });
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
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
          msg.respond(encode(answer), { headers: this.headers() });
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

  private async handle<T extends Payload>(
    subject: string,
    msg: Msg,
    required: readonly (keyof T & string)[],
    work: (payload: T) => Promise<void>,
  ): Promise<void> {
    const parent = extractTraceContext(msg.headers);
    const span = tracer().startSpan(`process ${subject}`, { kind: SpanKind.CONSUMER, attributes: { "messaging.system": "nats", "messaging.destination.name": subject } }, parent);
    await context.with(trace.setSpan(parent, span), async () => {
      try {
        const payload = decode<T>(msg.data, required);
        await work(payload);
        this.messages.inc({ subject: metricSubject(subject), direction: "in", outcome: "handled" });
      } catch (err) {
        const refused = err instanceof ContractError;
        this.messages.inc({ subject: metricSubject(subject), direction: "in", outcome: refused ? "refused" : "error" });
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
        this.log.error({ err, subject }, refused ? "refused a malformed message" : "handling a message failed");
      } finally {
        span.end();
      }
    });
  }
}

/** Subjects with a domain suffix are folded into one metric label. */
function metricSubject(subject: string): string {
  return subject.startsWith("passerelle.v1.inbound.") ? "passerelle.v1.inbound.*" : subject;
}
