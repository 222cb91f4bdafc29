/** One stanza's XML (as the bus carries it) to an element, through the strict XMPP parser and its limits. */
import { NS, StreamParser, type Element, type StreamParserLimits } from "@passerelle/xmpp";

export class StanzaParseError extends Error {
  override name = "StanzaParseError";
}

const HEADER = `<stream:stream xmlns='${NS.server}' xmlns:stream='${NS.streams}'>`;

export function parseStanza(xmlText: string, limits: StreamParserLimits): Element {
  if (Buffer.byteLength(xmlText, "utf8") > limits.maxStanzaBytes) throw new StanzaParseError("stanza too big");
  const found: Element[] = [];
  let failure: string | undefined;
  const parser = new StreamParser(
    limits,
    {
      onStreamStart: () => {},
      onElement: (el) => {
        found.push(el);
      },
      onStreamEnd: () => {},
      onError: (err) => {
        failure = `${err.condition}${err.text ? ": " + err.text : ""}`;
      },
    },
    { acceptClientNamespace: true },
  );
  parser.write(HEADER);
  parser.write(xmlText);
  if (failure !== undefined) throw new StanzaParseError(failure);
  if (found.length !== 1) throw new StanzaParseError(`expected one stanza, found ${found.length}`);
  return found[0]!;
}
