/**
 * SIP messages (RFC 3261 §7): parse from bytes and serialize to bytes. Pure; every input has a limit.
 */
import { SipParseError } from "./errors.ts";
import { SipHeaders, normalizeHeaderName } from "./headers.ts";

export const SIP_VERSION = "SIP/2.0";

export interface SipRequest {
  kind: "request";
  method: string;
  /** The Request-URI as written (parse it with `parseUri` when it is a sip: or sips: URI). */
  uri: string;
  headers: SipHeaders;
  body: Buffer;
}

export interface SipResponse {
  kind: "response";
  status: number;
  reason: string;
  headers: SipHeaders;
  body: Buffer;
}

export type SipMessage = SipRequest | SipResponse;

export interface SipLimits {
  /** Largest whole message, start line to the end of the body. */
  maxMessageBytes: number;
  /** Most header lines (after unfolding). */
  maxHeaders: number;
}

export const DEFAULT_LIMITS: SipLimits = { maxMessageBytes: 64 * 1024, maxHeaders: 100 };

export interface ParseOptions {
  limits?: SipLimits;
  /**
   * "datagram" (UDP): Content-Length optional, bytes past it are dropped (RFC 3261 §18.3).
   * "stream" (TCP): Content-Length required, the framer has already cut the message to it.
   */
  framing?: "datagram" | "stream";
}

// RFC 3261 §25.1: token characters.
const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;

export function isToken(s: string): boolean {
  return TOKEN.test(s);
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Where the header section ends: the index of the blank line's first byte and the body's start. */
export function findHeaderEnd(buf: Buffer, from = 0): { end: number; bodyStart: number } | undefined {
  for (let i = Math.max(0, from); i < buf.length - 1; i++) {
    if (buf[i] !== 0x0a) continue;
    // "\n\n" or "\n\r\n" after a line: a blank line.
    if (buf[i + 1] === 0x0a) return { end: i + 1, bodyStart: i + 2 };
    if (buf[i + 1] === 0x0d && buf[i + 2] === 0x0a) return { end: i + 1, bodyStart: i + 3 };
  }
  return undefined;
}

/** Parse one SIP message. Throws `SipParseError` (never anything else) on bad input. */
export function parseMessage(input: Buffer | string, options: ParseOptions = {}): SipMessage {
  const limits = options.limits ?? DEFAULT_LIMITS;
  const framing = options.framing ?? "datagram";
  const buf = typeof input === "string" ? Buffer.from(input, "utf8") : input;
  if (buf.length > limits.maxMessageBytes) {
    throw new SipParseError("too-large", `message of ${buf.length} bytes exceeds ${limits.maxMessageBytes}`);
  }
  // RFC 3261 §7.5: CRLFs before the start line are ignored.
  let start = 0;
  while (start < buf.length && (buf[start] === 0x0d || buf[start] === 0x0a)) start++;
  const headerEnd = findHeaderEnd(buf, start);
  if (!headerEnd) throw new SipParseError("no-header-end", "no empty line ends the header section");

  let head: string;
  try {
    head = utf8.decode(buf.subarray(start, headerEnd.end));
  } catch {
    throw new SipParseError("bad-encoding", "header section is not valid UTF-8");
  }
  const rawLines = head.split(/\r?\n/);
  if (rawLines[rawLines.length - 1] === "") rawLines.pop();
  const startLine = rawLines.shift() ?? "";

  const headers = new SipHeaders();
  // RFC 3261 §7.3.1: a line starting with SP or HTAB continues the previous header (folding).
  const unfolded: string[] = [];
  for (const line of rawLines) {
    if (line.includes("\r")) throw new SipParseError("bad-header", "bare CR in header section");
    if (line.startsWith(" ") || line.startsWith("\t")) {
      if (unfolded.length === 0) throw new SipParseError("bad-header", "continuation line before any header");
      unfolded[unfolded.length - 1] += " " + line.trim();
    } else {
      unfolded.push(line);
    }
    if (unfolded.length > limits.maxHeaders) {
      throw new SipParseError("too-many-headers", `more than ${limits.maxHeaders} header lines`);
    }
  }
  for (const line of unfolded) {
    const colon = line.indexOf(":");
    if (colon <= 0) throw new SipParseError("bad-header", `header line without a name: ${truncate(line)}`);
    const name = line.slice(0, colon).trimEnd();
    if (!isToken(name)) throw new SipParseError("bad-header", `bad header name: ${truncate(name)}`);
    const value = line.slice(colon + 1).trim();
    headers.append(name, value);
  }

  const message = parseStartLine(startLine, headers);

  // RFC 3261 §18.3 / §20.14: Content-Length frames the body.
  const lengths = headers.getAll("content-length");
  let contentLength: number | undefined;
  if (lengths.length > 0) {
    const distinct = new Set(lengths.map((v) => v.trim()));
    if (distinct.size > 1) throw new SipParseError("bad-content-length", "conflicting Content-Length headers");
    const v = lengths[0]!.trim();
    if (!/^\d{1,10}$/.test(v)) throw new SipParseError("bad-content-length", `bad Content-Length: ${truncate(v)}`);
    contentLength = Number(v);
  } else if (framing === "stream") {
    throw new SipParseError("bad-content-length", "Content-Length is required on a stream transport");
  }
  const available = buf.length - headerEnd.bodyStart;
  let body: Buffer;
  if (contentLength === undefined) {
    body = buf.subarray(headerEnd.bodyStart);
  } else {
    if (contentLength > available) {
      throw new SipParseError("truncated-body", `Content-Length ${contentLength} but only ${available} body bytes`);
    }
    body = buf.subarray(headerEnd.bodyStart, headerEnd.bodyStart + contentLength);
  }
  message.body = Buffer.from(body);

  checkMandatory(message);
  return message;
}

function parseStartLine(line: string, headers: SipHeaders): SipMessage {
  // RFC 3261 §7.2: Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
  if (/^SIP\//i.test(line)) {
    const m = /^(SIP\/\d+\.\d+) (\d{3}) ([^\r\n]*)$/i.exec(line);
    if (!m) throw new SipParseError("bad-start-line", `bad status line: ${truncate(line)}`);
    checkVersion(m[1]!);
    const status = Number(m[2]);
    if (status < 100 || status > 699) throw new SipParseError("bad-start-line", `status code ${status} out of range`);
    return { kind: "response", status, reason: m[3]!, headers, body: Buffer.alloc(0) };
  }
  // RFC 3261 §7.1: Request-Line = Method SP Request-URI SP SIP-Version
  const parts = line.split(" ");
  if (parts.length !== 3) throw new SipParseError("bad-start-line", `bad request line: ${truncate(line)}`);
  const [method, uri, version] = parts as [string, string, string];
  if (!isToken(method)) throw new SipParseError("bad-start-line", `bad method: ${truncate(method)}`);
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>"]+$/.test(uri)) {
    throw new SipParseError("bad-uri", `bad Request-URI: ${truncate(uri)}`);
  }
  if (!/^SIP\/\d+\.\d+$/i.test(version)) throw new SipParseError("bad-start-line", `bad version: ${truncate(version)}`);
  checkVersion(version);
  return { kind: "request", method, uri, headers, body: Buffer.alloc(0) };
}

function checkVersion(v: string): void {
  if (v.toUpperCase() !== SIP_VERSION) throw new SipParseError("bad-version", `unsupported version ${v}`);
}

// RFC 3261 §8.1.1: To, From, CSeq, Call-ID and Via are in every message.
function checkMandatory(message: SipMessage): void {
  for (const name of ["via", "from", "to", "call-id", "cseq"]) {
    const values = message.headers.getAll(name);
    if (values.length === 0) throw new SipParseError("missing-header", `missing ${name} header`);
    if (name !== "via" && values.length > 1) throw new SipParseError("bad-header", `more than one ${name} header`);
  }
  const cseq = parseCSeq(message.headers.get("cseq")!);
  if (message.kind === "request" && cseq.method !== message.method) {
    throw new SipParseError("bad-cseq", `CSeq method ${cseq.method} does not match ${message.method}`);
  }
}

export interface CSeq {
  seq: number;
  method: string;
}

// RFC 3261 §20.16: CSeq = 1*DIGIT LWS Method, the number below 2**31.
export function parseCSeq(value: string): CSeq {
  const m = /^(\d{1,10})\s+(\S+)$/.exec(value.trim());
  if (!m || !isToken(m[2]!)) throw new SipParseError("bad-cseq", `bad CSeq: ${truncate(value)}`);
  const seq = Number(m[1]);
  if (seq >= 2 ** 31) throw new SipParseError("bad-cseq", `CSeq number ${m[1]} too large`);
  return { seq, method: m[2]! };
}

/** Serialize a message; Content-Length is always written from the body. */
export function serializeMessage(message: SipMessage): Buffer {
  const lines: string[] = [];
  // RFC 3261 §7.1 / §7.2: start line.
  lines.push(
    message.kind === "request"
      ? `${message.method} ${message.uri} ${SIP_VERSION}`
      : `${SIP_VERSION} ${message.status} ${message.reason}`,
  );
  for (const { name, value } of message.headers.entries()) {
    if (normalizeHeaderName(name) === "content-length") continue;
    if (/[\r\n]/.test(value) || /[\r\n]/.test(name)) throw new TypeError(`header ${name} holds a line break`);
    lines.push(`${name}: ${value}`);
  }
  lines.push(`Content-Length: ${message.body.length}`);
  const head = Buffer.from(lines.join("\r\n") + "\r\n\r\n", "utf8");
  return message.body.length === 0 ? head : Buffer.concat([head, message.body]);
}

/** The number of bytes `serializeMessage` would produce, without building them. */
export function serializedSize(message: SipMessage): number {
  let size =
    Buffer.byteLength(message.kind === "request" ? `${message.method} ${message.uri} ${SIP_VERSION}` : `${SIP_VERSION} ${message.status} ${message.reason}`, "utf8") + 2;
  for (const { name, value } of message.headers.entries()) {
    if (normalizeHeaderName(name) === "content-length") continue;
    size += Buffer.byteLength(name, "utf8") + 2 + Buffer.byteLength(value, "utf8") + 2;
  }
  size += `Content-Length: ${message.body.length}`.length + 4;
  return size + message.body.length;
}

function truncate(s: string): string {
  return JSON.stringify(s.length > 80 ? s.slice(0, 80) + "…" : s);
}
