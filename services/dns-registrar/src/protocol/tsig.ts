/** TSIG (RFC 8945) with HMAC-SHA256: signing a request, verifying a signed message (a response, or a request in tests). */
import { createHmac, timingSafeEqual } from "node:crypto";
import { parseMessage, type DnsMessage, type ResourceRecord } from "./update.ts";
import { CLASS, Reader, TYPE, Writer, encodeName } from "./wire.ts";

/** RFC 8945 §6: the algorithm's name for HMAC-SHA256. */
export const HMAC_SHA256 = "hmac-sha256.";
/** RFC 8945 §5.2.3 recommends a fudge of 300 seconds. */
export const DEFAULT_FUDGE = 300;

/** RFC 8945 §3 / IANA: TSIG error codes. */
export const TSIG_ERRORS: Readonly<Record<number, string>> = { 16: "BADSIG", 17: "BADKEY", 18: "BADTIME", 22: "BADTRUNC" };
export const tsigErrorName = (code: number): string => (code === 0 ? "NOERROR" : (TSIG_ERRORS[code] ?? `TSIG${code}`));

export interface TsigKeyMaterial {
  /** The key's name, as the server knows it. */
  readonly name: string;
  readonly secret: Buffer;
}

export interface TsigRecord {
  readonly keyName: string;
  readonly algorithm: string;
  readonly timeSigned: number;
  readonly fudge: number;
  readonly mac: Buffer;
  readonly originalId: number;
  readonly error: number;
  readonly otherData: Buffer;
}

const normalize = (name: string): string => (name.endsWith(".") ? name : `${name}.`).toLowerCase();

/** RFC 8945 §4.3.3: the TSIG variables digested after the message. */
function tsigVariables(keyName: string, algorithm: string, timeSigned: number, fudge: number, error: number, otherData: Buffer): Buffer {
  return new Writer()
    .bytes(encodeName(keyName))
    .u16(CLASS.ANY)
    .u32(0)
    .bytes(encodeName(algorithm))
    .u48(timeSigned)
    .u16(fudge)
    .u16(error)
    .u16(otherData.length)
    .bytes(otherData)
    .toBuffer();
}

function hmac(secret: Buffer, parts: readonly Buffer[]): Buffer {
  const h = createHmac("sha256", secret);
  for (const part of parts) h.update(part);
  return h.digest();
}

/** RFC 8945 §4.3.1: a response's digest starts with the request's MAC, prefixed by its length. */
function requestMacPrefix(requestMac: Buffer | undefined): Buffer[] {
  return requestMac === undefined ? [] : [new Writer().u16(requestMac.length).bytes(requestMac).toBuffer()];
}

export interface SignOptions {
  /** Seconds since the epoch (RFC 8945 §4.2 Time Signed). */
  readonly timeSigned: number;
  readonly fudge?: number;
  /** When signing a response: the request's MAC (RFC 8945 §4.3.1). */
  readonly requestMac?: Buffer;
  /** RFC 8945 §4.3.3 Error field (a server's answer); 0 for a request. */
  readonly error?: number;
}

/** RFC 8945 §4.2, §4.3.3: appends a TSIG record to `message` (which has none) and returns the signed message and its MAC. */
export function signMessage(message: Buffer, key: TsigKeyMaterial, options: SignOptions): { message: Buffer; mac: Buffer } {
  const fudge = options.fudge ?? DEFAULT_FUDGE;
  const originalId = message.readUInt16BE(0);
  const error = options.error ?? 0;
  const mac = hmac(key.secret, [...requestMacPrefix(options.requestMac), message, tsigVariables(key.name, HMAC_SHA256, options.timeSigned, fudge, error, Buffer.alloc(0))]);
  // RFC 8945 §4.2: TSIG RR: NAME=key name, TYPE=TSIG, CLASS=ANY, TTL=0, RDATA as below.
  const rdata = new Writer().name(HMAC_SHA256).u48(options.timeSigned).u16(fudge).u16(mac.length).bytes(mac).u16(originalId).u16(error).u16(0).toBuffer();
  const record = new Writer().name(key.name).u16(TYPE.TSIG).u16(CLASS.ANY).u32(0).u16(rdata.length).bytes(rdata).toBuffer();
  const signed = Buffer.concat([message, record]);
  // RFC 8945 §4.2: the TSIG record is the last additional record; ARCOUNT grows by one.
  signed.writeUInt16BE(message.readUInt16BE(10) + 1, 10);
  return { message: signed, mac };
}

export function parseTsigRecord(buf: Buffer, record: ResourceRecord): TsigRecord {
  const r = new Reader(buf);
  r.offset = record.rdataOffset;
  const algorithm = r.name();
  const timeSigned = r.u48();
  const fudge = r.u16();
  const mac = Buffer.from(r.bytes(r.u16()));
  const originalId = r.u16();
  const error = r.u16();
  const otherData = Buffer.from(r.bytes(r.u16()));
  if (r.offset !== record.rdataOffset + record.rdata.length) throw new Error("TSIG RDATA length mismatch");
  return { keyName: record.name, algorithm, timeSigned, fudge, mac, originalId, error, otherData };
}

export type VerifyResult =
  | { readonly ok: true; readonly message: DnsMessage; readonly tsig: TsigRecord }
  /** unsigned: no TSIG record; tsig-error: the server reports BADSIG/BADKEY/…; bad-*: our own checks failed. */
  | { readonly ok: false; readonly reason: "unsigned" | "tsig-error" | "bad-key" | "bad-algorithm" | "bad-sig" | "bad-time"; readonly message: DnsMessage; readonly tsig?: TsigRecord };

/**
 * RFC 8945 §5.3 (client) / §5.2 (server): checks the TSIG of a signed message. For a response,
 * pass the request's MAC (§4.3.1). `now` in seconds since the epoch.
 */
export function verifyMessage(buf: Buffer, key: TsigKeyMaterial, requestMac: Buffer | undefined, now: number): VerifyResult {
  const message = parseMessage(buf);
  const last = message.additional.at(-1);
  // RFC 8945 §5.3: a signed request's answer must carry a TSIG as its last additional record.
  if (last === undefined || last.type !== TYPE.TSIG) return { ok: false, reason: "unsigned", message };
  const tsig = parseTsigRecord(buf, last);
  if (normalize(tsig.keyName) !== normalize(key.name)) return { ok: false, reason: "bad-key", message, tsig };
  if (normalize(tsig.algorithm) !== HMAC_SHA256) return { ok: false, reason: "bad-algorithm", message, tsig };
  // RFC 8945 §5.3.2: the server could not verify our request (e.g. BADSIG, BADKEY); its answer is unsigned.
  if (tsig.error !== 0 && tsig.mac.length === 0) return { ok: false, reason: "tsig-error", message, tsig };
  // RFC 8945 §4.3.1: digest the message as it was before the TSIG was added: original ID, ARCOUNT less one.
  const unsigned = Buffer.from(buf.subarray(0, last.start));
  unsigned.writeUInt16BE(tsig.originalId, 0);
  unsigned.writeUInt16BE(message.counts[3] - 1, 10);
  const expected = hmac(key.secret, [...requestMacPrefix(requestMac), unsigned, tsigVariables(tsig.keyName, tsig.algorithm, tsig.timeSigned, tsig.fudge, tsig.error, tsig.otherData)]);
  // RFC 8945 §5.2.2: MACs are compared in full here (no truncation accepted), in constant time.
  if (tsig.mac.length !== expected.length || !timingSafeEqual(tsig.mac, expected)) return { ok: false, reason: "bad-sig", message, tsig };
  // RFC 8945 §5.2.3: the time signed must be within fudge of our clock.
  if (Math.abs(now - tsig.timeSigned) > tsig.fudge) return { ok: false, reason: "bad-time", message, tsig };
  if (tsig.error !== 0) return { ok: false, reason: "tsig-error", message, tsig };
  return { ok: true, message, tsig };
}
