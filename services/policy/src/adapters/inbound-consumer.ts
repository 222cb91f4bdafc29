/**
 * Pulls accepted stanzas from the JetStream work queue (ADR 0003) and handles them concurrently,
 * up to the consumer's max_ack_pending. Order is kept without waiting: every stanza takes the same
 * steps in arrival order (one Redis pipeline, then one request to the translator over one NATS
 * connection, both FIFO), so the translator starts its SIP transactions in the order the partner
 * sent the stanzas, while their answers are awaited in parallel.
 */
import { SpanKind } from "@opentelemetry/api";
import { jetstream, type Consumer, type ConsumerMessages, type JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { ContractError, decode, INBOUND_STREAM, type InboundStanza } from "@passerelle/contracts";
import { POLICY_CONSUMER } from "@passerelle/runtime";
import { sampledContext, startChildSpan, withSpan, type Logger } from "@passerelle/telemetry";
import type { InboundHandler } from "./inbound-handler.ts";

const MAX_DELIVER = 10;

export class InboundConsumer {
  private messages: ConsumerMessages | undefined;
  private readonly running = new Set<Promise<void>>();
  private inFlight = 0;
  private stopping = false;

  constructor(
    private readonly nats: NatsConnection,
    private readonly handler: InboundHandler,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const js = jetstream(this.nats);
    const consumer = await js.consumers.get(INBOUND_STREAM, POLICY_CONSUMER);
    this.messages = await consumer.consume({ max_messages: 512 });
    void this.run(consumer, this.messages);
  }

  /**
   * Keep consuming for as long as the service runs: should the consumer's iterator end or fail
   * (missed heartbeats while the process is saturated, a NATS restart), say so and start again —
   * the stanzas wait in JetStream meanwhile, unacknowledged, never lost.
   */
  private async run(consumer: Consumer, first: ConsumerMessages): Promise<void> {
    let messages = first;
    for (let restarts = 0; !this.stopping; restarts++) {
      try {
        void this.watch(messages);
        await this.loop(messages);
      } catch (err) {
        this.log.error({ err: (err as Error).message }, "inbound consumer failed");
      }
      if (this.stopping) return;
      this.log.warn({ restarts }, "inbound consumer ended; consuming again");
      await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** Math.min(restarts, 5), 3000)));
      try {
        messages = await consumer.consume({ max_messages: 512 });
        this.messages = messages;
      } catch (err) {
        this.log.error({ err: (err as Error).message }, "cannot consume the inbound stream; retrying");
      }
    }
  }

  /** Log what the consumer reports (heartbeats missed, consumer deleted, …). */
  private async watch(messages: ConsumerMessages): Promise<void> {
    try {
      for await (const status of messages.status()) {
        if (status.type !== "next" && status.type !== "debug" && status.type !== "heartbeat") this.log.warn({ status: status.type }, "inbound consumer status");
      }
    } catch {
      // the iterator ends with the consumer
    }
  }

  get pending(): number {
    return this.inFlight;
  }

  private async loop(messages: ConsumerMessages): Promise<void> {
    for await (const m of messages) {
      let stanza: InboundStanza;
      try {
        stanza = decode<InboundStanza>(m.data, ["id", "kind", "from", "to", "partnerDomain", "localDomain", "xml"]);
      } catch (err) {
        this.log.error({ err: (err as Error).message, contract: err instanceof ContractError }, "malformed inbound message: terminated");
        m.term();
        continue;
      }
      this.inFlight++;
      const work = this.process(m, stanza).finally(() => {
        this.inFlight--;
        this.running.delete(work);
      });
      this.running.add(work);
    }
  }

  private process(m: JsMsg, stanza: InboundStanza): Promise<void> {
    // A sampled stanza's trace continues here (ADR 0011); an unsampled one has no header and no span.
    const parent = sampledContext(m.headers);
    if (parent === undefined) return this.decide(m, stanza);
    const span = startChildSpan("process inbound stanza", { kind: SpanKind.CONSUMER, attributes: { "messaging.system": "nats", "xmpp.stanza.kind": stanza.kind } }, parent);
    return withSpan(span, () => this.decide(m, stanza).finally(() => span?.end()), parent);
  }

  private async decide(m: JsMsg, stanza: InboundStanza): Promise<void> {
    try {
      const lastAttempt = m.info.deliveryCount >= MAX_DELIVER;
      const outcome = await this.handler.handle(stanza, lastAttempt, m.info.deliveryCount > 1);
      if (outcome === "done") m.ack();
      else m.nak(Math.min(1000 * 2 ** m.info.deliveryCount, 30_000));
    } catch (err) {
      // Redis or NATS trouble: leave the stanza for redelivery rather than lose it.
      this.log.error({ err, id: stanza.id }, "handling an inbound stanza failed; will retry");
      m.nak(2000);
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.messages?.close();
    await Promise.allSettled([...this.running]);
  }
}
