// The bus against a real nats-server (testkit): request/reply and publish/subscribe, and the trace
// model of ADR 0011: a sampled trace continues across hops (one trace id, parent links, the
// traceparent header), an unsampled one carries no header and makes no span; bad payloads are
// refused; a request without a responder or an answer fails.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import { connect, type MsgHdrs, type NatsConnection } from "@nats-io/transport-node";
import { createLogger, InMemorySpanExporter, initTracing, inRootSpan, Registry, shutdownTracing, SimpleSpanProcessor } from "@passerelle/telemetry";
// runtime does not depend on the testkit; its source is imported directly (tests only).
import { createScope, startNats, type NatsServer } from "../../testkit/src/index.ts";
import { Bus } from "./bus.ts";
import { coalesceWrites } from "./service.ts";

const scope = createScope("runtime-bus");
let server: NatsServer;
let nc: NatsConnection;
let bus: Bus;
// A fresh exporter per provider: shutting a provider down stops its exporter.
let exporter = new InMemorySpanExporter();

before(async () => {
  server = await startNats(scope, { jetstream: false });
  nc = await connect({ servers: server.url, noAsyncTraces: true });
  bus = new Bus({ nats: nc, log: createLogger("test", "silent"), metrics: new Registry() });
});
after(async () => {
  await nc?.close();
  await shutdownTracing();
  await scope.close();
});
afterEach(async () => {
  await shutdownTracing();
  exporter = new InMemorySpanExporter();
});

interface Ping {
  v: 1;
  n: number;
}

/** Serve `subject` and remember the trace header each request arrived with. */
function echo(subject: string, seen: (string | undefined)[]) {
  return bus.reply<Ping, Ping>(subject, "q", ["n"], async (request, msg) => {
    seen.push(header(msg.headers));
    // A second hop from inside the handler.
    const inner = await bus.request<Ping, Ping>(`${subject}.inner`, { v: 1, n: request.n }, ["n"], 2000);
    return { v: 1, n: inner.n + 1 };
  });
}

const header = (h: MsgHdrs | undefined): string | undefined => (h === undefined || h.get("traceparent") === "" ? undefined : h.get("traceparent"));

describe("Bus", () => {
  it("request/reply and publish/subscribe without tracing: no headers, no spans", async () => {
    const seen: (string | undefined)[] = [];
    const innerSeen: (string | undefined)[] = [];
    const a = echo("t.off", seen);
    const b = bus.reply<Ping, Ping>("t.off.inner", "q", ["n"], async (request, msg) => {
      innerSeen.push(header(msg.headers));
      return { v: 1, n: request.n * 10 };
    });
    const replies = await Promise.all([1, 2, 3].map((n) => bus.request<Ping, Ping>("t.off", { v: 1, n }, ["n"], 2000)));
    assert.deepEqual(
      replies.map((r) => r.n),
      [11, 21, 31],
    );
    assert.deepEqual([...seen, ...innerSeen], [undefined, undefined, undefined, undefined, undefined, undefined]);
    const got: number[] = [];
    const sub = bus.subscribe<Ping>("t.off.events", undefined, ["n"], (p, msg) => {
      assert.equal(msg.headers, undefined);
      got.push(p.n);
    });
    bus.publish<Ping>("t.off.events", { v: 1, n: 7 });
    await nc.flush();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(got, [7]);
    await Promise.all([a.drain(), b.drain(), sub.drain()]);
  });

  it("a sampled trace is one trace across every hop; an unsampled one has no header and no span", async () => {
    initTracing("bus-test", { OTEL_TRACES_SAMPLER: "always_on" }, { spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const seen: (string | undefined)[] = [];
    const innerSeen: (string | undefined)[] = [];
    const a = echo("t.on", seen);
    const b = bus.reply<Ping, Ping>("t.on.inner", "q", ["n"], async (request, msg) => {
      innerSeen.push(header(msg.headers));
      return { v: 1, n: request.n };
    });
    // Sampled: a root at the entry point, then request → handler → inner request → inner handler.
    const reply = await inRootSpan("entry", {}, () => bus.request<Ping, Ping>("t.on", { v: 1, n: 4 }, ["n"], 2000));
    assert.equal(reply.n, 5);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const spans = exporter.getFinishedSpans();
    const names = spans.map((s) => s.name).sort();
    assert.deepEqual(names, ["entry", "process t.on", "process t.on.inner", "request t.on", "request t.on.inner"]);
    const traceIds = new Set(spans.map((s) => s.spanContext().traceId));
    assert.equal(traceIds.size, 1, "one trace");
    const byName = new Map(spans.map((s) => [s.name, s]));
    const parentOf = (name: string) => byName.get(name)?.parentSpanContext?.spanId;
    assert.equal(parentOf("request t.on"), byName.get("entry")?.spanContext().spanId);
    assert.equal(parentOf("process t.on"), byName.get("request t.on")?.spanContext().spanId);
    assert.equal(parentOf("request t.on.inner"), byName.get("process t.on")?.spanContext().spanId);
    assert.equal(parentOf("process t.on.inner"), byName.get("request t.on.inner")?.spanContext().spanId);
    assert.match(seen[0] ?? "", /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    assert.match(innerSeen[0] ?? "", /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);

    // A request outside any trace starts none (only entry points do), and carries no header.
    exporter.reset();
    assert.equal((await bus.request<Ping, Ping>("t.on", { v: 1, n: 1 }, ["n"], 2000)).n, 2);
    assert.equal(seen[1], undefined);
    assert.equal(innerSeen[1], undefined);
    assert.equal(exporter.getFinishedSpans().length, 0);
    await Promise.all([a.drain(), b.drain()]);
  });

  it("with a ratio of 0 nothing is traced, with 1 everything is", async () => {
    initTracing("bus-test", { OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "0" }, { spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const seen: (string | undefined)[] = [];
    const a = bus.reply<Ping, Ping>("t.ratio", "q", ["n"], async (request, msg) => {
      seen.push(header(msg.headers));
      return request;
    });
    for (let i = 0; i < 20; i++) await inRootSpan("entry", {}, () => bus.request<Ping, Ping>("t.ratio", { v: 1, n: i }, ["n"], 2000));
    assert.equal(exporter.getFinishedSpans().length, 0);
    assert.ok(seen.every((h) => h === undefined));
    await shutdownTracing();
    exporter = new InMemorySpanExporter();
    initTracing("bus-test", { OTEL_TRACES_SAMPLER_ARG: "1" }, { spanProcessors: [new SimpleSpanProcessor(exporter)] });
    await inRootSpan("entry", {}, () => bus.request<Ping, Ping>("t.ratio", { v: 1, n: 1 }, ["n"], 2000));
    assert.equal(exporter.getFinishedSpans().length, 3);
    await a.drain();
  });

  it("refuses a malformed payload, and a request without an answer fails", async () => {
    const handled: number[] = [];
    const sub = bus.subscribe<Ping>("t.bad", undefined, ["n"], (p) => void handled.push(p.n));
    nc.publish("t.bad", "not json");
    nc.publish("t.bad", JSON.stringify({ v: 2, n: 1 }));
    nc.publish("t.bad", JSON.stringify({ v: 1 }));
    bus.publish<Ping>("t.bad", { v: 1, n: 9 });
    await nc.flush();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(handled, [9]);
    await assert.rejects(bus.request<Ping, Ping>("t.nobody", { v: 1, n: 1 }, ["n"], 1000));
    const silent = nc.subscribe("t.silent", { callback: () => undefined });
    await assert.rejects(bus.request<Ping, Ping>("t.silent", { v: 1, n: 1 }, ["n"], 200));
    silent.unsubscribe();
    await sub.drain();
  });

  it("rejects the sampler settings it does not know", async () => {
    assert.throws(() => initTracing("bus-test", { OTEL_TRACES_SAMPLER: "sometimes" }, { spanProcessors: [new SimpleSpanProcessor(exporter)] }), /OTEL_TRACES_SAMPLER/);
    assert.throws(() => initTracing("bus-test", { OTEL_TRACES_SAMPLER_ARG: "2" }, { spanProcessors: [new SimpleSpanProcessor(exporter)] }), /OTEL_TRACES_SAMPLER_ARG/);
    // Also without an exporter (tracing off).
    assert.throws(() => initTracing("bus-test", { OTEL_TRACES_SAMPLER: "sometimes" }), /OTEL_TRACES_SAMPLER/);
  });

  it("coalesced writes: requests are answered, and what was published before close arrives", async () => {
    const other = await connect({ servers: server.url, noAsyncTraces: true });
    assert.equal(coalesceWrites(other), true);
    const otherBus = new Bus({ nats: other, log: createLogger("test", "silent"), metrics: new Registry() });
    const a = bus.reply<Ping, Ping>("t.coalesce", "q", ["n"], async (request) => ({ v: 1, n: request.n * 2 }));
    await nc.flush();
    const replies = await Promise.all(Array.from({ length: 200 }, (_, n) => otherBus.request<Ping, Ping>("t.coalesce", { v: 1, n }, ["n"], 2000)));
    assert.deepEqual(
      replies.map((r) => r.n),
      Array.from({ length: 200 }, (_, n) => n * 2),
    );
    const got: number[] = [];
    const sub = bus.subscribe<Ping>("t.coalesce.events", undefined, ["n"], (p) => void got.push(p.n));
    await nc.flush();
    for (let n = 0; n < 100; n++) otherBus.publish<Ping>("t.coalesce.events", { v: 1, n });
    await other.close();
    await nc.flush();
    for (let i = 0; i < 50 && got.length < 100; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(got, Array.from({ length: 100 }, (_, n) => n), "all, in order");
    await Promise.all([a.drain(), sub.drain()]);
  });

  it("coalesced writes and the request multiplexer survive a NATS restart", async () => {
    const own = await startNats(scope, { jetstream: false, name: "nats-restart" });
    const a = await connect({ servers: own.url, noAsyncTraces: true, reconnectTimeWait: 100, maxReconnectAttempts: -1 });
    const b = await connect({ servers: own.url, noAsyncTraces: true, reconnectTimeWait: 100, maxReconnectAttempts: -1 });
    assert.equal(coalesceWrites(a), true);
    assert.equal(coalesceWrites(b), true);
    const busA = new Bus({ nats: a, log: createLogger("test", "silent"), metrics: new Registry() });
    const busB = new Bus({ nats: b, log: createLogger("test", "silent"), metrics: new Registry() });
    const sub = busB.reply<Ping, Ping>("t.restart", "q", ["n"], async (request) => ({ v: 1, n: request.n + 1 }));
    await b.flush();
    assert.equal((await busA.request<Ping, Ping>("t.restart", { v: 1, n: 1 }, ["n"], 2000)).n, 2);
    await own.stop();
    // A request while the server is gone fails (timeout), it does not hang.
    await assert.rejects(busA.request<Ping, Ping>("t.restart", { v: 1, n: 2 }, ["n"], 300));
    const again = await startNats(scope, { jetstream: false, name: "nats-restart", port: own.port });
    let answered: number | undefined;
    for (let i = 0; i < 50 && answered === undefined; i++) {
      try {
        answered = (await busA.request<Ping, Ping>("t.restart", { v: 1, n: 3 }, ["n"], 300)).n;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    assert.equal(answered, 4);
    await sub.drain();
    await a.close();
    await b.close();
    await again.stop();
  });
});
