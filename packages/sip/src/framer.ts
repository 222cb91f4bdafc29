/**
 * Cuts a byte stream (TCP) into SIP messages by Content-Length (RFC 3261 §18.3), across partial
 * reads and with several messages pipelined in one read. After an error the stream cannot be
 * resynchronised: the framer refuses everything and the connection must be closed.
 */
import { SipParseError } from "./errors.ts";
import { DEFAULT_LIMITS, findHeaderEnd, parseMessage, type SipLimits, type SipMessage } from "./message.ts";

export class StreamFramer {
  private buffer: Buffer = Buffer.alloc(0);
  /** Where to resume looking for the end of the headers (bytes before it were already scanned). */
  private scanFrom = 0;
  private failed: SipParseError | undefined;

  constructor(private readonly limits: SipLimits = DEFAULT_LIMITS) {}

  /** Feed bytes; returns every complete message now available. Throws SipParseError once the stream is bad. */
  push(chunk: Buffer): SipMessage[] {
    if (this.failed) throw this.failed;
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const out: SipMessage[] = [];
    try {
      // Each pass consumes at least one byte or stops, so the loop ends.
      while (this.buffer.length > 0) {
        // RFC 5626 §4.4.1 / RFC 3261 §7.5: CRLF keepalives between messages are skipped.
        let skip = 0;
        while (skip < this.buffer.length && (this.buffer[skip] === 0x0d || this.buffer[skip] === 0x0a)) skip++;
        if (skip > 0) {
          this.buffer = this.buffer.subarray(skip);
          this.scanFrom = 0;
          continue;
        }
        const headerEnd = findHeaderEnd(this.buffer, Math.max(0, this.scanFrom - 3));
        if (!headerEnd) {
          if (this.buffer.length > this.limits.maxMessageBytes) {
            throw new SipParseError("too-large", `header section exceeds ${this.limits.maxMessageBytes} bytes`);
          }
          this.scanFrom = this.buffer.length;
          break;
        }
        const contentLength = readContentLength(this.buffer.subarray(0, headerEnd.end));
        const total = headerEnd.bodyStart + contentLength;
        if (total > this.limits.maxMessageBytes) {
          throw new SipParseError("too-large", `message of ${total} bytes exceeds ${this.limits.maxMessageBytes}`);
        }
        if (this.buffer.length < total) break;
        const raw = this.buffer.subarray(0, total);
        this.buffer = this.buffer.subarray(total);
        this.scanFrom = 0;
        out.push(parseMessage(raw, { limits: this.limits, framing: "stream" }));
      }
    } catch (err) {
      this.failed =
        err instanceof SipParseError ? err : new SipParseError("bad-header", `framing failed: ${String(err)}`);
      this.buffer = Buffer.alloc(0);
      throw this.failed;
    }
    if (this.buffer.length > 0 && this.buffer.byteOffset > 0 && this.buffer.length < 4096) {
      // Do not keep a large earlier chunk alive for a small remainder.
      this.buffer = Buffer.from(this.buffer);
    }
    return out;
  }

  /** Bytes waiting for the rest of a message. */
  get pending(): number {
    return this.buffer.length;
  }
}

// RFC 3261 §18.3: on a stream, Content-Length (or its compact form "l") must be present.
function readContentLength(head: Buffer): number {
  const text = head.toString("latin1");
  const re = /(?:^|\n)(?:content-length|l)[ \t]*:[ \t]*([^\r\n]*)/gi;
  let found: string | undefined;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const v = m[1]!.trim();
    if (found !== undefined && found !== v) throw new SipParseError("bad-content-length", "conflicting Content-Length");
    found = v;
  }
  if (found === undefined) throw new SipParseError("bad-content-length", "Content-Length is required on a stream");
  if (!/^\d{1,10}$/.test(found)) throw new SipParseError("bad-content-length", `bad Content-Length: ${found.slice(0, 40)}`);
  return Number(found);
}
