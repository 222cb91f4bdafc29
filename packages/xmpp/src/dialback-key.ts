import { createHash, createHmac, timingSafeEqual } from "node:crypto";

// XEP-0185 §2: key = HMAC-SHA256(key = hex(SHA-256(secret)), receiving + " " + originating + " " + stream id), hex.
export function dialbackKey(
  secret: string,
  receiving: string,
  originating: string,
  streamId: string,
): string {
  const hmacKey = createHash("sha256").update(secret, "utf8").digest("hex");
  return createHmac("sha256", hmacKey)
    .update(`${receiving} ${originating} ${streamId}`, "utf8")
    .digest("hex");
}

// XEP-0185 §2: the key is a secret MAC; compare it in constant time so timing reveals nothing of the expected key.
export function keysEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, "utf8");
  const y = Buffer.from(b, "utf8");
  if (x.length !== y.length) return false;
  return timingSafeEqual(x, y);
}
