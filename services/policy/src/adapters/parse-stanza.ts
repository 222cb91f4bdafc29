/**
 * Parse one serialized stanza (as carried in a NATS payload) with the same restricted parser the
 * edge uses, so a payload can never smuggle a DTD or an entity into a bounce.
 */
import { StreamError, StreamParser, streamHeader, type Element } from "@passerelle/xmpp";

const limits = { maxStanzaBytes: 1024 * 1024, maxDepth: 64, maxAttributesPerElement: 64, maxHeaderBytes: 4096 };
const header = streamHeader({ version: "1.0" });

export function parseStanza(xml: string): Element {
  let found: Element | undefined;
  let failure: StreamError | undefined;
  const parser = new StreamParser(limits, {
    onStreamStart: () => undefined,
    onElement: (el) => {
      found ??= el;
    },
    onStreamEnd: () => undefined,
    onError: (err) => {
      failure = err;
    },
  });
  parser.write(header + xml);
  if (failure !== undefined) throw failure;
  if (found === undefined) throw new Error("no complete stanza in the payload");
  return found;
}
