/**
 * OpenTelemetry tracing (ADR 0007, sampling and the hot path: ADR 0011).
 *
 * Tracing is on when spans have somewhere to go: OTEL_EXPORTER_OTLP_ENDPOINT (or
 * ..._TRACES_ENDPOINT) is set. Then a trace is started only at an entry point of the gateway (a
 * partner's stanza at the edge, a SIP request at the translator: `startRootSpan`), and the sampler
 * decides there, once per trace: OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG as the
 * OpenTelemetry specification names them, by default `parentbased_traceidratio` at 0.1. Every
 * later hop continues a sampled trace (`startChildSpan`) and does nothing at all for an unsampled
 * one: no span, no context switch, no NATS header. So a sampled stanza is one trace across every
 * hop, and an unsampled one costs nothing. With tracing off (no exporter) nothing is created.
 * Domain code only touches `@opentelemetry/api`.
 */
import {
  context,
  propagation,
  ROOT_CONTEXT,
  trace,
  TraceFlags,
  type Context,
  type Span,
  type SpanOptions,
  type TextMapGetter,
  type TextMapSetter,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type Sampler,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";

let provider: NodeTracerProvider | undefined;

/** The ratio of traces kept when OTEL_TRACES_SAMPLER_ARG does not say. */
export const DEFAULT_SAMPLE_RATIO = 0.1;

export interface TracingOptions {
  /** Where spans go instead of the OTLP exporter (tests). */
  spanProcessors?: SpanProcessor[];
}

/** The sampler OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG name; throws on a value it does not know. */
export function samplerFromEnv(env: NodeJS.ProcessEnv = process.env): Sampler {
  const name = (env.OTEL_TRACES_SAMPLER ?? "parentbased_traceidratio").trim().toLowerCase();
  const ratio = (): number => {
    const raw = env.OTEL_TRACES_SAMPLER_ARG;
    if (raw === undefined || raw.trim() === "") return DEFAULT_SAMPLE_RATIO;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < 0 || value > 1) throw new Error(`OTEL_TRACES_SAMPLER_ARG must be a number from 0 to 1, got ${JSON.stringify(raw.slice(0, 40))}`);
    return value;
  };
  switch (name) {
    case "always_on":
    case "parentbased_always_on":
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case "always_off":
    case "parentbased_always_off":
      return new AlwaysOffSampler();
    case "traceidratio":
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio()) });
    default:
      throw new Error(`OTEL_TRACES_SAMPLER ${JSON.stringify(name.slice(0, 40))} is not one of always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio`);
  }
}

export function initTracing(service: string, env: NodeJS.ProcessEnv = process.env, options: TracingOptions = {}): void {
  if (provider !== undefined) return;
  // Checked even when nothing is exported: a wrong setting is found at start, not when an exporter is added.
  const sampler = samplerFromEnv(env);
  const processors: SpanProcessor[] = [...(options.spanProcessors ?? [])];
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT !== undefined) {
    processors.push(new BatchSpanProcessor(new OTLPTraceExporter()));
  }
  // Nowhere to send spans: tracing stays off (the API's no-op tracer, no context manager).
  if (processors.length === 0) return;
  provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ "service.name": service, "service.namespace": "passerelle" }),
    sampler,
    spanProcessors: processors,
  });
  provider.register({ propagator: new W3CTraceContextPropagator() });
}

export async function shutdownTracing(): Promise<void> {
  const p = provider;
  provider = undefined;
  if (p === undefined) return;
  await p.shutdown();
  trace.disable();
  context.disable();
  propagation.disable();
}

/** Whether spans are made at all (an exporter is configured). */
export function tracingEnabled(): boolean {
  return provider !== undefined;
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

/** Whether `ctx` carries a sampled span (the only kind of trace that is continued). */
export function isSampled(ctx: Context = context.active()): boolean {
  if (provider === undefined) return false;
  const spanContext = trace.getSpanContext(ctx);
  return spanContext !== undefined && (spanContext.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED;
}

/**
 * Write the trace context into message headers (W3C traceparent) when it is sampled; returns
 * whether anything was written. An unsampled message carries no trace header at all.
 */
export function injectTraceContext(carrier: HeaderCarrier, ctx: Context = context.active()): boolean {
  if (!isSampled(ctx)) return false;
  propagation.inject(ctx, carrier, setter);
  return true;
}

/** The sampled trace context carried by message headers, or undefined (no header, tracing off, not sampled). */
export function sampledContext(carrier: HeaderCarrier | undefined): Context | undefined {
  if (provider === undefined || carrier === undefined || carrier.get("traceparent") === "") return undefined;
  const ctx = propagation.extract(ROOT_CONTEXT, carrier, getter);
  return isSampled(ctx) ? ctx : undefined;
}

/** The trace context carried by message headers, as a parent for the consumer's span (the active context when there is none). */
export function extractTraceContext(carrier: HeaderCarrier | undefined): Context {
  return sampledContext(carrier) ?? context.active();
}

/**
 * A new trace at an entry point of the gateway, if the sampler keeps it; undefined when tracing
 * is off or the trace is not sampled (then nothing downstream is traced either).
 */
export function startRootSpan(name: string, options: SpanOptions = {}): Span | undefined {
  if (provider === undefined) return undefined;
  const span = tracer().startSpan(name, { ...options, root: true });
  if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED) return span;
  return undefined;
}

/** A child of `parent` (by default the active context) when that is a sampled trace; else undefined. */
export function startChildSpan(name: string, options: SpanOptions = {}, parent: Context = context.active()): Span | undefined {
  if (!isSampled(parent)) return undefined;
  return tracer().startSpan(name, options, parent);
}

/** Run `fn` with `span` active, or just run it when there is no span (the unsampled path: no context switch). */
export function withSpan<T>(span: Span | undefined, fn: () => T, parent: Context = context.active()): T {
  if (span === undefined) return fn();
  return context.with(trace.setSpan(parent, span), fn);
}

export function tracer(name = "passerelle") {
  return trace.getTracer(name);
}

/**
 * Start a trace at an entry point (a SIP request, a stanza from a partner) and run `work` in it;
 * without a sampled span `work` just runs.
 */
export function inRootSpan<T>(name: string, options: SpanOptions, work: () => Promise<T>): Promise<T> {
  const span = startRootSpan(name, options);
  if (span === undefined) return work();
  return withSpan(span, () => work().finally(() => span.end()), ROOT_CONTEXT);
}

/** For tests: spans kept in memory (`initTracing(name, env, { spanProcessors: [new SimpleSpanProcessor(exporter)] })`). */
export { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
export { SpanKind } from "@opentelemetry/api";
