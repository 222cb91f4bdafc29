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

/** Every complete top-level element of `text`, or the first stream error it raised. */
export function parseElements(text: string, limits: StreamParserLimits, options: StreamParserOptions = {}): ParsedElements {
  const elements: Element[] = [];
  let error: StreamError | undefined;
  const parser = new StreamParser(
    limits,
    {
      onStreamStart: () => undefined,
      onElement: (el) => {
        elements.push(el);
      },
      onStreamEnd: () => undefined,
      onError: (err) => {
        error ??= err;
      },
    },
    options,
  );
  parser.write(HEADER);
  if (error === undefined) parser.write(text);
  return error === undefined ? { ok: true, elements } : { ok: false, error };
}
