/**
 * Answering a request (RFC 3261 §8.2.6): the response copies Via, From, To, Call-ID and CSeq, and a
 * To-tag is added when the request had none.
 */
import type { SipRequest, SipResponse } from "./message.ts";
import { SipHeaders } from "./headers.ts";
import { parseNameAddr, formatNameAddr } from "./name-addr.ts";
import { reasonPhrase } from "./reasons.ts";
import { generateTag } from "./via.ts";

export interface ResponseOptions {
  reason?: string;
  /** The To-tag to add when the request's To has none (default: a random one; null: add none). Ignored for 100. */
  toTag?: string | null;
  headers?: readonly (readonly [string, string])[];
  body?: Buffer;
  contentType?: string;
}

export function createResponse(request: SipRequest, status: number, options: ResponseOptions = {}): SipResponse {
  const headers = new SipHeaders();
  // RFC 3261 §8.2.6.2: Via values in the same order, From, Call-ID, CSeq equal to the request's.
  for (const line of request.headers.entries()) {
    if (line.name === "Via") headers.append("Via", line.value);
  }
  headers.append("From", request.headers.get("from") ?? "");
  headers.append("To", toWithTag(request.headers.get("to") ?? "", status, options.toTag));
  headers.append("Call-ID", request.headers.get("call-id") ?? "");
  headers.append("CSeq", request.headers.get("cseq") ?? "");
  // RFC 3261 §8.2.6.1: a 100 (Trying) copies Timestamp.
  const timestamp = request.headers.get("timestamp");
  if (status === 100 && timestamp !== undefined) headers.append("Timestamp", timestamp);
  for (const [name, value] of options.headers ?? []) headers.append(name, value);
  if (options.contentType !== undefined) headers.append("Content-Type", options.contentType);
  return { kind: "response", status, reason: options.reason ?? reasonPhrase(status), headers, body: options.body ?? Buffer.alloc(0) };
}

// RFC 3261 §8.2.6.2: if the request's To had no tag, the UAS adds one (not to a 100 Trying).
function toWithTag(to: string, status: number, tag: string | null | undefined): string {
  if (status === 100 || tag === null) return to;
  try {
    const addr = parseNameAddr(to);
    if (addr.params.has("tag")) return to;
    addr.params.set("tag", tag ?? generateTag());
    return formatNameAddr(addr);
  } catch {
    return to;
  }
}
