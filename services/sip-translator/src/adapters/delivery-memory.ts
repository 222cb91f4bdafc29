/**
 * Remembers what became of each delivery for a while (Redis, owned by the sip-translator), so a
 * stanza that JetStream redelivers after a lost answer (ADR 0003) is answered from memory instead
 * of reaching the SIP user twice.
 *
 *   passerelle:sip:delivery:{id}  JSON SipDeliveryResult, expires after `ttlSeconds`
 */
import type { Redis } from "ioredis";
import type { SipDeliveryRequest, SipDeliveryResult } from "@passerelle/contracts";

export class DeliveryMemory {
  constructor(
    private readonly redis: Redis,
    private readonly ttlSeconds = 600,
  ) {}

  /** Deliver once: a known id gets its remembered result; Redis trouble never blocks a delivery. */
  async once(request: SipDeliveryRequest, deliver: () => Promise<SipDeliveryResult>): Promise<SipDeliveryResult> {
    const key = `passerelle:sip:delivery:${request.id}`;
    // Only a redelivered stanza can have been sent before: first deliveries skip the look-up.
    const known = request.redelivered === true ? await this.redis.get(key).catch(() => null) : null;
    if (known !== null) {
      try {
        return JSON.parse(known) as SipDeliveryResult;
      } catch {
        // an unreadable record is ignored: deliver again
      }
    }
    const result = await deliver();
    if (result.outcome !== "failed" || result.sipStatus !== undefined) {
      // Not awaited: the answer does not wait for the record.
      this.redis.set(key, JSON.stringify(result), "EX", this.ttlSeconds).catch(() => undefined);
    }
    return result;
  }
}
