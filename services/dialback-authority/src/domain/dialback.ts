/**
 * The authoritative side of server dialback, pure: keys (XEP-0185) made from the shared secret and
 * bound to receiving domain, originating domain and stream id, compared in constant time.
 */
import type { DialbackKeyRequest, DialbackVerdict, DialbackVerifyRequest } from "@passerelle/contracts";
import { dialbackKey, keysEqual } from "@passerelle/xmpp";

/** Longest stream id or key we accept from a peer (XEP-0185 keys are 64 hex digits). */
export const MAX_STREAM_ID = 1024;
export const MAX_KEY = 1024;

const DOMAIN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** A domain as compared here: lower case, no trailing dot; undefined if not a plausible domain. */
export function plainDomain(value: unknown): string | undefined {
  if (typeof value !== "string" || value.length === 0 || value.length > 254) return undefined;
  const d = (value.endsWith(".") ? value.slice(0, -1) : value).toLowerCase();
  return DOMAIN.test(d) && d.length <= 253 ? d : undefined;
}

/** What is wrong with a request's fields, or undefined. */
export function checkFields(req: { receiving: unknown; originating: unknown; streamId: unknown; key?: unknown }): string | undefined {
  if (plainDomain(req.receiving) === undefined) return "receiving domain is not a valid domain";
  if (plainDomain(req.originating) === undefined) return "originating domain is not a valid domain";
  if (typeof req.streamId !== "string" || req.streamId.length === 0 || req.streamId.length > MAX_STREAM_ID) return "stream id missing or too long";
  if ("key" in req && (typeof req.key !== "string" || req.key.length === 0 || req.key.length > MAX_KEY)) return "key missing or too long";
  return undefined;
}

// XEP-0185 §3: key = HMAC-SHA256(SHA256(secret), receiving + ' ' + originating + ' ' + id).
export function makeKey(secret: string, req: DialbackKeyRequest): string {
  const problem = checkFields(req);
  if (problem !== undefined) throw new RangeError(problem);
  return dialbackKey(secret, plainDomain(req.receiving) ?? "", plainDomain(req.originating) ?? "", req.streamId);
}

/**
 * XEP-0220 §2.3.1 (authoritative server): is `key` the one we made for this stream? Only for
 * streams our own domains originated.
 */
export function verifyKey(secret: string, req: DialbackVerifyRequest, localDomains: ReadonlySet<string>): DialbackVerdict {
  const problem = checkFields(req);
  if (problem !== undefined) return { v: 1, valid: false, reason: problem };
  const originating = plainDomain(req.originating) ?? "";
  if (!localDomains.has(originating)) return { v: 1, valid: false, reason: `${originating} is not one of our domains` };
  const expected = dialbackKey(secret, plainDomain(req.receiving) ?? "", originating, req.streamId);
  // XEP-0185 §4: constant-time comparison.
  return keysEqual(expected, req.key) ? { v: 1, valid: true } : { v: 1, valid: false, reason: "the key does not match" };
}
