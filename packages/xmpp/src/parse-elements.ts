/**
 * Standalone XML (a stanza carried on NATS, a PIDF or isComposing body) read with the same
 * restricted parser and limits as a stream: it is wrapped in a synthetic stream header, so a DTD,
 * an entity, a comment or a PI is refused exactly as on port 5269.
 */
import { NS } from "./namespaces.ts";
import type { Element } from "./element.ts";
import type { StreamError } from "./stream-error.ts";
import { StreamParser, type StreamParserLimits, type StreamParserOptions } from "./stream-parser.ts";

const HEADER = `<stream:stream xmlns='${NS.server}' xmlns:stream='${NS.streams}'>`;

export type ParsedElements = { ok: true; elements: Element[] } | { ok: false; error: StreamError };

interface Sink {
  elements: Element[];
  error: StreamError | undefined;
}

interface Pooled {
  parser: StreamParser;
  sink: Sink;
}

/**
 * Parsers left open between two calls, per limits object and namespace mode: a fresh parser (a
 * saxes instance and the synthetic header) costs about two thirds of parsing a small stanza. A
 * parser is put back only when it stands cleanly between stanzas (`betweenStanzas`); after an
 * error, a closed stream or input that stopped mid-markup the next call starts afresh, so no
 * input can affect how a later one is read.
 */
const pools = new WeakMap<StreamParserLimits, Map<boolean, Pooled>>();

function freshParser(limits: StreamParserLimits, options: StreamParserOptions): Pooled {
  const sink: Sink = { elements: [], error: undefined };
  const parser = new StreamParser(
    limits,
    {
      onStreamStart: () => undefined,
      onElement: (el) => {
        sink.elements.push(el);
      },
      onStreamEnd: () => undefined,
      onError: (err) => {
        sink.error ??= err;
      },
    },
    options,
  );
  parser.write(HEADER);
  return { parser, sink };
}

/** Every complete top-level element of `text`, or the first stream error it raised. */
export function parseElements(text: string, limits: StreamParserLimits, options: StreamParserOptions = {}): ParsedElements {
  const client = options.acceptClientNamespace === true;
  let byMode = pools.get(limits);
  // Taken out of the pool while in use.
  let pooled = byMode?.get(client);
  if (pooled !== undefined) byMode?.delete(client);
  else pooled = freshParser(limits, options);
  const { parser, sink } = pooled;
  if (sink.error === undefined) {
    sink.elements = [];
    parser.write(text);
  }
  const result: ParsedElements = sink.error === undefined ? { ok: true, elements: sink.elements } : { ok: false, error: sink.error };
  sink.elements = [];
  if (sink.error === undefined && parser.betweenStanzas()) {
    if (byMode === undefined) {
      byMode = new Map();
      pools.set(limits, byMode);
    }
    byMode.set(client, pooled);
  }
  return result;
}
