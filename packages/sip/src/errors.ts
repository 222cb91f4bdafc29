/** Why a SIP message was refused. `status` is the response a server should answer with, when it can answer at all. */
export type SipParseErrorReason =
  | "too-large"
  | "too-many-headers"
  | "no-header-end"
  | "bad-start-line"
  | "bad-version"
  | "bad-header"
  | "missing-header"
  | "bad-content-length"
  | "truncated-body"
  | "bad-cseq"
  | "bad-uri"
  | "bad-name-addr"
  | "bad-via"
  | "bad-encoding";

/** A SIP message, URI or header that cannot be accepted. Never thrown for anything but bad input. */
export class SipParseError extends Error {
  override name = "SipParseError";
  constructor(
    readonly reason: SipParseErrorReason,
    message: string,
    /** The SIP status a server answers with (RFC 3261 §21.4: 400, 505, 513). */
    readonly status: number = reason === "too-large" ? 513 : reason === "bad-version" ? 505 : 400,
  ) {
    super(message);
  }
}
