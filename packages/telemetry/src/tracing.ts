/**
 * OpenTelemetry tracing. A tracer provider is registered once per process; spans are exported by
 * OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT) is set, and otherwise still
 * created so that logs carry real trace ids. Domain code only touches `@opentelemetry/api`.
 */
import { context, propagation, trace, type Context, type TextMapGetter, type TextMapSetter } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, type SpanProcessor } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";

let provider: NodeTracerProvider | undefined;

export function initTracing(service: string, env: NodeJS.ProcessEnv = process.env): void {
  if (provider !== undefined) return;
  const processors: SpanProcessor[] = [];
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT !== undefined) {
    processors.push(new BatchSpanProcessor(new OTLPTraceExporter()));
  }
  provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ "service.name": service, "service.namespace": "passerelle" }),
    spanProcessors: processors,
  });
  provider.register({ propagator: new W3CTraceContextPropagator() });
}

export async function shutdownTracing(): Promise<void> {
  await provider?.shutdown();
  provider = undefined;
}

/** The minimal header map shape shared by NATS headers and plain records. */
export interface HeaderCarrier {
  get(key: string): string;
  set(key: string, value: string): void;
}

const getter: TextMapGetter<HeaderCarrier> = {
  keys: () => ["traceparent", "tracestate"],
  get: (carrier, key) => {
    const value = carrier.get(key);
    return value === "" ? undefined : value;
  },
};
const setter: TextMapSetter<HeaderCarrier> = {
  set: (carrier, key, value) => carrier.set(key, value),
};

/** Write the active (or given) trace context into message headers (W3C traceparent). */
export function injectTraceContext(carrier: HeaderCarrier, ctx: Context = context.active()): void {
  propagation.inject(ctx, carrier, setter);
}

/** The trace context carried by message headers, as a parent for the consumer's span. */
export function extractTraceContext(carrier: HeaderCarrier | undefined): Context {
  if (carrier === undefined) return context.active();
  return propagation.extract(context.active(), carrier, getter);
}

export function tracer(name = "passerelle") {
  return trace.getTracer(name);
}
