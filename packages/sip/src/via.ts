/**
 * Via header values (RFC 3261 §20.42): sent-protocol sent-by *( SEMI via-params ).
 */
import { randomFillSync } from "node:crypto";
import { SipParseError } from "./errors.ts";
import { formatParams, parseParams, type HeaderParams } from "./params.ts";
import { parseHostPort } from "./uri.ts";

// Random bytes for branches, tags and Call-IDs come from one pooled buffer refilled by the CSPRNG,
// not from a randomBytes call (and its native job) per identifier: three per SIP MESSAGE.
const pool = Buffer.allocUnsafe(4096);
let poolOffset = pool.length;
function randomBytes(n: number): Buffer {
  if (poolOffset + n > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const bytes = pool.subarray(poolOffset, poolOffset + n);
  poolOffset += n;
  return bytes;
}

export interface Via {
  /** Upper-cased transport: UDP, TCP, TLS, SCTP, WS, WSS… */
  transport: string;
  host: string;
  port?: number;
  params: HeaderParams;
}

// RFC 3261 §8.1.1.7: branch IDs of RFC 3261 transactions begin with this magic cookie.
export const BRANCH_MAGIC_COOKIE = "z9hG4bK";

/** A new branch, unique in space and time: the magic cookie and 96 random bits. */
export function generateBranch(): string {
  return BRANCH_MAGIC_COOKIE + randomBytes(12).toString("base64url").replace(/[-_]/g, "x");
}

/** A tag for From or To (RFC 3261 §19.3: at least 32 bits of randomness). */
export function generateTag(): string {
  return randomBytes(8).toString("hex");
}

/** A Call-ID (RFC 3261 §8.1.1.4): random, with our host for good measure. */
export function generateCallId(host: string): string {
  return `${randomBytes(12).toString("hex")}@${host}`;
}

export function parseVia(text: string): Via {
  // RFC 3261 §25.1: sent-protocol = protocol-name SLASH protocol-version SLASH transport (SLASH allows LWS)
  const m = /^\s*SIP\s*\/\s*2\.0\s*\/\s*([A-Za-z0-9\-.!%*_+`'~]+)\s+([^;\s]+)\s*(;.*)?$/i.exec(text);
  if (!m) throw new SipParseError("bad-via", `bad Via: ${JSON.stringify(text.slice(0, 80))}`);
  let hp: { host: string; port?: number };
  try {
    hp = parseHostPort(m[2]!);
  } catch (err) {
    throw new SipParseError("bad-via", `bad Via sent-by: ${(err as Error).message}`);
  }
  const via: Via = { transport: m[1]!.toUpperCase(), host: hp.host, params: parseParams(m[3] ?? "", "Via") };
  if (hp.port !== undefined) via.port = hp.port;
  return via;
}

export function formatVia(via: Via): string {
  return `SIP/2.0/${via.transport} ${via.host}${via.port !== undefined ? ":" + via.port : ""}${formatParams(via.params)}`;
}
