/**
 * Pulls accepted stanzas from the JetStream work queue (ADR 0003). Stanzas of one conversation
 * (same sender, same recipient) are handled one after the other so they reach the SIP side in
 * order; different conversations run concurrently, up to the consumer's max_ack_pending.
 */
import { context } from "@opentelemetry/api";
import { jetstream, type ConsumerMessages, type JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { ContractError, decode, INBOUND_STREAM, type InboundStanza } from "@passerelle/contracts";
import { POLICY_CONSUMER } from "@passerelle/runtime";
import { extractTraceContext, type Logger } from "@passerelle/telemetry";
import type { InboundHandler } from "./inbound-handler.ts";

const MAX_DELIVER = 10;

export class InboundConsumer {
  private messages: ConsumerMessages | undefined;
  private readonly chains = new Map<string, Promise<void>>();
  private inFlight = 0;

  constructor(
    private readonly nats: NatsConnection,
    private readonly handler: InboundHandler,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const js = jetstream(this.nats);
    const consumer = await js.consumers.get(INBOUND_STREAM, POLICY_CONSUMER);
    this.messages = await consumer.consume({ max_messages: 512 });
    void this.loop(this.messages);
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
      const key = `${stanza.from.split("/")[0]}|${stanza.to.split("/")[0]}`;
      const previous = this.chains.get(key) ?? Promise.resolve();
      this.inFlight++;
      const next = previous.then(() => this.process(m, stanza));
      this.chains.set(key, next);
      void next.finally(() => {
        this.inFlight--;
        if (this.chains.get(key) === next) this.chains.delete(key);
      });
    }
  }

  private async process(m: JsMsg, stanza: InboundStanza): Promise<void> {
    const parent = extractTraceContext(m.headers);
    await context.with(parent, async () => {
      try {
        const lastAttempt = m.info.deliveryCount >= MAX_DELIVER;
        const outcome = await this.handler.handle(stanza, lastAttempt);
        if (outcome === "done") m.ack();
        else m.nak(Math.min(1000 * 2 ** m.info.deliveryCount, 30_000));
      } catch (err) {
        // Redis or NATS trouble: leave the stanza for redelivery rather than lose it.
        this.log.error({ err, id: stanza.id }, "handling an inbound stanza failed; will retry");
        m.nak(2000);
      }
    });
  }

  async stop(): Promise<void> {
    await this.messages?.close();
    await Promise.allSettled([...this.chains.values()]);
  }
}
