/** One stanza's XML (as the bus carries it) to an element, through the strict XMPP parser and its limits. */
import { parseElements, type Element, type StreamParserLimits } from "@passerelle/xmpp";

export class StanzaParseError extends Error {
  override name = "StanzaParseError";
}

export function parseStanza(xmlText: string, limits: StreamParserLimits): Element {
  if (Buffer.byteLength(xmlText, "utf8") > limits.maxStanzaBytes) throw new StanzaParseError("stanza too big");
  const parsed = parseElements(xmlText, limits, { acceptClientNamespace: true });
  if (!parsed.ok) throw new StanzaParseError(`${parsed.error.condition}${parsed.error.text ? ": " + parsed.error.text : ""}`);
  const [only, ...rest] = parsed.elements;
  if (only === undefined || rest.length > 0) throw new StanzaParseError(`expected one stanza, found ${parsed.elements.length}`);
  return only;
}
