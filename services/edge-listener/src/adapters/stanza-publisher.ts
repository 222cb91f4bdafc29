/**
 * Puts accepted stanzas on the JetStream work queue (ADR 0003). A stanza is "accepted" once
 * JetStream has stored it; publishes are pipelined (not awaited one by one) and the number in
 * flight is bounded: above the bound the caller pauses reading from the socket.
 */
import { SpanKind, context, trace } from "@opentelemetry/api";
import { jetstream, type JetStreamClient } from "@nats-io/jetstream";
import { headers as natsHeaders, type NatsConnection } from "@nats-io/transport-node";
import { encode, subjects, type InboundStanza } from "@passerelle/contracts";
import { Counter, injectTraceContext, startRootSpan, type Logger, type Registry } from "@passerelle/telemetry";

export class StanzaPublisher {
  private readonly js: JetStreamClient;
  private inFlight = 0;
  private readonly published: Counter<"kind" | "outcome">;

  constructor(
    nats: NatsConnection,
    private readonly log: Logger,
    metrics: Registry,
    private readonly maxInFlight = 4096,
  ) {
    this.js = jetstream(nats, { timeout: 5000 });
    this.published = new Counter({
      name: "passerelle_edge_stanzas_published_total",
      help: "Inbound stanzas handed to JetStream, by kind and outcome",
      labelNames: ["kind", "outcome"],
      registers: [metrics],
    });
  }

  get saturated(): boolean {
    return this.inFlight >= this.maxInFlight;
  }

  /** Publish; `failed` runs if JetStream did not store it (the caller bounces the stanza). */
  publish(stanza: InboundStanza, failed: (reason: string) => void, settled: () => void): void {
    // A stanza's trace starts here, if the sampler keeps it (ADR 0011); an unsampled one carries no trace header.
    const span = startRootSpan("publish inbound stanza", {
      kind: SpanKind.PRODUCER,
      attributes: { "messaging.system": "nats", "xmpp.stanza.kind": stanza.kind, "xmpp.partner": stanza.partnerDomain },
    });
    let headers;
    if (span !== undefined) {
      headers = natsHeaders();
      injectTraceContext(headers, trace.setSpan(context.active(), span));
    }
    this.inFlight++;
    this.js
      .publish(subjects.inboundStanza(stanza.partnerDomain), encode(stanza), headers === undefined ? { msgID: stanza.id } : { msgID: stanza.id, headers })
      .then(
        () => this.published.inc({ kind: stanza.kind, outcome: "stored" }),
        (err: Error) => {
          this.published.inc({ kind: stanza.kind, outcome: "failed" });
          this.log.error({ err: err.message, id: stanza.id }, "JetStream did not store an inbound stanza");
          failed(err.message);
        },
      )
      .finally(() => {
        this.inFlight--;
        span?.end();
        settled();
      });
  }
}
