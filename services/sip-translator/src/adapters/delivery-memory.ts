/**
 * Remembers what became of each delivery for a while (Redis, owned by the sip-translator), so a
 * stanza that JetStream redelivers after a lost answer (ADR 0003) is answered from memory instead
 * of reaching the SIP user twice.
 *
 *   passerelle:sip:deliveries:{minute}  HASH stanza id → JSON SipDeliveryResult, expires `ttlSeconds`
 *                                       after its minute ends
 *
 * Results are written in batches: everything remembered within `batchMs` (10 ms) is one HSET and
 * one EXPIREAT on the current minute's hash (one round trip for a burst, instead of a `SET EX` per
 * stanza). A redelivery comes after the consumer's ack wait (seconds), long after the batch is
 * written. A redelivery — rare — looks in every hash that can still hold the id.
 */
import type { Redis } from "ioredis";
import type { SipDeliveryRequest, SipDeliveryResult } from "@passerelle/contracts";

const BUCKET_MS = 60_000;
const PREFIX = "passerelle:sip:deliveries:";

export class DeliveryMemory {
  private batch: string[] = [];
  private batchBucket = 0;
  private scheduled = false;

  constructor(
    private readonly redis: Redis,
    private readonly ttlSeconds = 600,
    private readonly now: () => number = Date.now,
    private readonly batchMs = 10,
  ) {}

  /** Deliver once: a known id gets its remembered result; Redis trouble never blocks a delivery. */
  async once(request: SipDeliveryRequest, deliver: () => Promise<SipDeliveryResult>): Promise<SipDeliveryResult> {
    // Only a redelivered stanza can have been sent before: first deliveries skip the look-up.
    const known = request.redelivered === true ? await this.recall(request.id).catch(() => null) : null;
    if (known !== null) {
      try {
        return JSON.parse(known) as SipDeliveryResult;
      } catch {
        // an unreadable record is ignored: deliver again
      }
    }
    const result = await deliver();
    // Not awaited: the answer does not wait for the record.
    if (result.outcome !== "failed" || result.sipStatus !== undefined) this.remember(request.id, JSON.stringify(result));
    return result;
  }

  /** The remembered result of `id`, newest first, or null. */
  async recall(id: string): Promise<string | null> {
    const current = Math.floor(this.now() / BUCKET_MS);
    const buckets = Math.ceil((this.ttlSeconds * 1000) / BUCKET_MS) + 1;
    const pipeline = this.redis.pipeline();
    for (let i = 0; i < buckets; i++) pipeline.hget(PREFIX + String(current - i), id);
    const results = (await pipeline.exec()) ?? [];
    for (const [err, value] of results) if (err === null && typeof value === "string") return value;
    return null;
  }

  private remember(id: string, result: string): void {
    const bucket = Math.floor(this.now() / BUCKET_MS);
    if (bucket !== this.batchBucket) this.flush();
    this.batchBucket = bucket;
    this.batch.push(id, result);
    if (!this.scheduled) {
      this.scheduled = true;
      setTimeout(() => this.flush(), this.batchMs).unref();
    }
  }

  /** Write what is waiting (also at shutdown, before Redis is closed). */
  flush(): void {
    this.scheduled = false;
    if (this.batch.length === 0) return;
    const key = PREFIX + String(this.batchBucket);
    const fields = this.batch;
    this.batch = [];
    // The hash lives until the last of its entries is ttlSeconds old.
    const expiresAt = Math.ceil(((this.batchBucket + 1) * BUCKET_MS) / 1000) + this.ttlSeconds;
    this.redis
      .pipeline()
      .hset(key, ...fields)
      .expireat(key, expiresAt)
      .exec()
      .catch(() => undefined);
  }
}
