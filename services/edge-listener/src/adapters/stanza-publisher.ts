/**
 * Puts accepted stanzas on the JetStream work queue (ADR 0003). A stanza is "accepted" once
 * JetStream has stored it; publishes are pipelined (not awaited one by one) and the number in
 * flight is bounded: above the bound the caller pauses reading from the socket.
 */
import { SpanKind, context, trace } from "@opentelemetry/api";
import { headers as natsHeaders, type Msg, type NatsConnection } from "@nats-io/transport-node";
import { encode, subjects, type InboundStanza } from "@passerelle/contracts";
import { requestMux, type RequestMux } from "@passerelle/runtime";
import { Counter, injectTraceContext, startRootSpan, type Logger, type Registry } from "@passerelle/telemetry";

export class StanzaPublisher {
  private readonly mux: RequestMux;
  private inFlight = 0;
  private readonly published: Counter<"kind" | "outcome">;

  constructor(
    nats: NatsConnection,
    private readonly log: Logger,
    metrics: Registry,
    private readonly maxInFlight = 4096,
  ) {
    // JetStream's publish is a request to the stream's subject answered with a PubAck; it goes
    // through the connection's request multiplexer (no Error object and no timer per stanza).
    this.mux = requestMux(nats);
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
    // Nats-Msg-Id: JetStream's de-duplication window (ADR 0003) drops a retried publish.
    const headers = natsHeaders();
    headers.set("Nats-Msg-Id", stanza.id);
    if (span !== undefined) injectTraceContext(headers, trace.setSpan(context.active(), span));
    this.inFlight++;
    this.mux
      .request(subjects.inboundStanza(stanza.partnerDomain), encode(stanza), { timeoutMs: 5000, headers })
      .then(checkPubAck)
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

/** A JetStream PubAck: `{"stream":…,"seq":…}` once stored (also for a duplicate), `{"error":{…}}` otherwise. */
export function checkPubAck(msg: Msg): void {
  let ack: { stream?: unknown; seq?: unknown; error?: { code?: unknown; description?: unknown } };
  try {
    ack = JSON.parse(new TextDecoder().decode(msg.data)) as typeof ack;
  } catch {
    throw new Error("JetStream answered with something that is not a PubAck");
  }
  if (ack.error !== undefined) throw new Error(`JetStream refused the stanza: ${String(ack.error.description ?? ack.error.code ?? "error")}`);
  if (typeof ack.stream !== "string" || typeof ack.seq !== "number") throw new Error("JetStream answered with an incomplete PubAck");
}
