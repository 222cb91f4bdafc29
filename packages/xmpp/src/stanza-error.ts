import { Element, xml } from "./element.ts";
import { NS } from "./namespaces.ts";

// RFC 6120 §8.3.2: the error types.
export type StanzaErrorType = "auth" | "cancel" | "continue" | "modify" | "wait";

// RFC 6120 §8.3.3: the defined stanza error conditions (a helper for callers; the builder takes any name).
export type StanzaErrorCondition =
  | "bad-request"
  | "conflict"
  | "feature-not-implemented"
  | "forbidden"
  | "gone"
  | "internal-server-error"
  | "item-not-found"
  | "jid-malformed"
  | "not-acceptable"
  | "not-allowed"
  | "not-authorized"
  | "policy-violation"
  | "recipient-unavailable"
  | "redirect"
  | "registration-required"
  | "remote-server-not-found"
  | "remote-server-timeout"
  | "resource-constraint"
  | "service-unavailable"
  | "subscription-required"
  | "undefined-condition"
  | "unexpected-request";

function copy(el: Element): Element {
  const out = new Element(el.name, { ...el.attrs });
  for (const child of el.children) out.cnode(typeof child === "string" ? child : copy(child));
  return out;
}

/**
 * The error reply to a stanza: from/to swapped, type="error", same id and other attributes, the
 * original children copied and the <error/> appended. Throws TypeError if the stanza is itself an
 * error: RFC 6120 §8.3.1 forbids answering an error with an error.
 */
export function stanzaErrorReply(
  stanza: Element,
  error: { type: StanzaErrorType; condition: string; text?: string; by?: string },
): Element {
  if (stanza.attrs.type === "error")
    throw new TypeError("an error stanza must not be answered with an error");
  // RFC 6120 §8.3.1: swap the addresses, keep the id, MAY include the original payload.
  const attrs: Record<string, string | undefined> = { ...stanza.attrs };
  attrs.from = stanza.attrs.to;
  attrs.to = stanza.attrs.from;
  attrs.type = "error";
  const reply = xml(stanza.name, attrs);
  for (const child of stanza.children) reply.cnode(typeof child === "string" ? child : copy(child));
  // RFC 6120 §8.3.2: <error type by?> with the condition, then an optional <text/>.
  reply.cnode(
    xml(
      "error",
      { type: error.type, by: error.by },
      xml(error.condition, { xmlns: NS.stanzaErrors }),
      error.text === undefined ? undefined : xml("text", { xmlns: NS.stanzaErrors }, error.text),
    ),
  );
  return reply;
}
