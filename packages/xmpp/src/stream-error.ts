import { Element, xml } from "./element.ts";
import { NS } from "./namespaces.ts";

// RFC 6120 §4.9.3: the defined stream error conditions.
export type StreamErrorCondition =
  | "bad-format"
  | "bad-namespace-prefix"
  | "conflict"
  | "connection-timeout"
  | "host-gone"
  | "host-unknown"
  | "improper-addressing"
  | "internal-server-error"
  | "invalid-from"
  | "invalid-namespace"
  | "invalid-xml"
  | "not-authorized"
  | "not-well-formed"
  | "policy-violation"
  | "remote-connection-failed"
  | "reset"
  | "resource-constraint"
  | "restricted-xml"
  | "see-other-host"
  | "system-shutdown"
  | "undefined-condition"
  | "unsupported-encoding"
  | "unsupported-feature"
  | "unsupported-stanza-type"
  | "unsupported-version";

/** A stream-level error: the stream is closed after it is sent (RFC 6120 §4.9.1.1). */
export class StreamError extends Error {
  readonly condition: StreamErrorCondition;
  readonly text?: string;
  /** An application-specific condition in urn:xmpp:errors, e.g. "stanza-too-big". */
  readonly appCondition?: string;

  constructor(condition: StreamErrorCondition, text?: string, appCondition?: string) {
    super(text === undefined ? condition : `${condition}: ${text}`);
    this.name = "StreamError";
    this.condition = condition;
    if (text !== undefined) this.text = text;
    if (appCondition !== undefined) this.appCondition = appCondition;
  }
}

// RFC 6120 §4.9.2: <stream:error> holds the condition, an optional <text/>, then an optional
// application-specific condition (§4.9.4), here in urn:xmpp:errors (XEP-0182 registry).
export function streamErrorElement(err: StreamError): Element {
  return xml(
    "stream:error",
    {},
    xml(err.condition, { xmlns: NS.streamErrors }),
    err.text === undefined ? undefined : xml("text", { xmlns: NS.streamErrors }, err.text),
    err.appCondition === undefined ? undefined : xml(err.appCondition, { xmlns: NS.appErrors }),
  );
}
