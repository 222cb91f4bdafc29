/** Why an outbound s2s stream failed, typed so callers can bounce stanzas with the right error. */
import { NS, StreamError, type Element, type StreamErrorCondition } from "@passerelle/xmpp";

export type S2SErrorKind =
  /** Nothing to connect to. */
  | "no-targets"
  /** TCP (or direct TLS) connection to every target failed. */
  | "connect"
  /** STARTTLS refused, TLS handshake failed, or the TLS policy could not be met. */
  | "tls"
  /** The peer's certificate is not trusted or does not name the remote domain (RFC 9525). */
  | "certificate"
  /** The peer sent <stream:error/>: `streamError` holds its condition. */
  | "stream-error"
  /** The peer broke the protocol (bad XML, limits, unexpected element): we sent `streamError`. */
  | "protocol"
  /** Authentication failed or no method in common (SASL EXTERNAL, dialback). */
  | "auth"
  /** A bounded wait ran out. */
  | "timeout"
  /** The peer closed the stream or the socket. */
  | "closed";

export class S2SError extends Error {
  override name = "S2SError";
  readonly kind: S2SErrorKind;
  /** For "stream-error" (the peer's) and "protocol" (ours). */
  readonly streamError?: StreamError;
  /** "host:port" of the target concerned, when there is one. */
  readonly target?: string;

  constructor(kind: S2SErrorKind, message: string, extra: { streamError?: StreamError; target?: string; cause?: unknown } = {}) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.kind = kind;
    if (extra.streamError !== undefined) this.streamError = extra.streamError;
    if (extra.target !== undefined) this.target = extra.target;
  }
}

// RFC 6120 §4.9.3: the defined conditions; anything else from a peer is undefined-condition.
const CONDITIONS = new Set<string>([
  "bad-format", "bad-namespace-prefix", "conflict", "connection-timeout", "host-gone", "host-unknown",
  "improper-addressing", "internal-server-error", "invalid-from", "invalid-namespace", "invalid-xml",
  "not-authorized", "not-well-formed", "policy-violation", "remote-connection-failed", "reset",
  "resource-constraint", "restricted-xml", "see-other-host", "system-shutdown", "undefined-condition",
  "unsupported-encoding", "unsupported-feature", "unsupported-stanza-type", "unsupported-version",
]);

/** RFC 6120 §4.9.2: read a peer's <stream:error/> into a StreamError (texts bounded). */
export function streamErrorFromElement(el: Element): StreamError {
  let condition: StreamErrorCondition = "undefined-condition";
  let text: string | undefined;
  let app: string | undefined;
  for (const child of el.getChildElements().slice(0, 8)) {
    const ns = child.getNS();
    const name = child.getName();
    if (ns === NS.streamErrors && name === "text") text = child.getText().slice(0, 512);
    else if (ns === NS.streamErrors && CONDITIONS.has(name)) condition = name as StreamErrorCondition;
    else if (ns !== NS.streamErrors && app === undefined) app = name.slice(0, 64);
  }
  return new StreamError(condition, text, app);
}
