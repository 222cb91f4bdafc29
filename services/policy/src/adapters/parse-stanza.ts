/**
 * Parse one serialized stanza (as carried in a NATS payload) with the same restricted parser the
 * edge uses, so a payload can never smuggle a DTD or an entity into a bounce.
 */
import { parseElements, type Element } from "@passerelle/xmpp";

const limits = { maxStanzaBytes: 1024 * 1024, maxDepth: 64, maxAttributesPerElement: 64, maxHeaderBytes: 4096 };

export function parseStanza(xml: string): Element {
  const parsed = parseElements(xml, limits);
  if (!parsed.ok) throw parsed.error;
  const found = parsed.elements[0];
  if (found === undefined) throw new Error("no complete stanza in the payload");
  return found;
}
