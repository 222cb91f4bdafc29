/**
 * Authenticated streams in Redis (owned by the edge listener): which replica holds a stream and
 * which domains it authenticated, so the admin and other replicas can see them; and the
 * connection limits counted across every replica (the partner entry's `connectionLimit`, Lync's
 * per-partner limit, and `gateway.limits.connectionLimit`), each direction apart as before.
 *
 *   passerelle:edge:stream:{streamId}   HASH replica, domains, method, tls, since   (TTL, refreshed)
 *   passerelle:edge:replica:{replicaId} SET of stream ids                          (TTL, refreshed)
 *   passerelle:edge:limit:{dir}:partner:{domain}  ZSET "{replica}|{id}" scored by expiry (ms)
 *   passerelle:edge:limit:{dir}:gateway           ZSET "{replica}|{id}" scored by expiry (ms)
 *
 * Each replica refreshes the expiry of its live members; a crashed replica's members lapse and are
 * pruned by the next check. When Redis cannot answer, limits fall back to this replica's own count.
 */
import type { Redis } from "ioredis";
import { Counter, type Logger, type Registry } from "@passerelle/telemetry";

const TTL_SECONDS = 120;
/** How long a limit check waits for Redis before counting on this replica alone. */
const CHECK_TIMEOUT_MS = 1000;

export type Direction = "inbound" | "outbound";

export type LimitVerdict = { admitted: true } | { admitted: false; limit: "partner" | "gateway"; text: string };

/**
 * Prune lapsed members, then admit the member if both the partner's and the gateway's sets have
 * room (a member already present is only refreshed), all in one step.
 * KEYS: partner set, gateway set. ARGV: member, now (ms), expiry (ms), partner limit, gateway limit,
 * key TTL (ms). Returns 0 admitted, 1 partner limit reached, 2 gateway limit reached.
 */
const ACQUIRE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[2])
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 1 end
  if not redis.call('ZSCORE', KEYS[2], ARGV[1]) and redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[5]) then return 2 end
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('PEXPIRE', KEYS[2], ARGV[6])
return 0
`;

/** One counted stream: a direction, a partner domain, an id unique on this replica. */
interface Slot {
  direction: Direction;
  domain: string;
  id: string;
  /** Admitted: refresh() may re-add it. Until the verdict, a refresh must not count it (a refused one would linger). */
  admitted?: boolean;
}

/** What is kept per stream (the Redis hash is built from it at each refresh: streams are many). */
interface Session {
  domains: string;
  method: string;
  tls: boolean;
  since: number;
}

export interface SessionRegistryOptions {
  metrics?: Registry;
  /** How long an entry lives unless refreshed (default 120 s; refreshed every third of it). */
  ttlSeconds?: number;
}

export class SessionRegistry {
  private readonly live = new Map<string, Session>();
  /** Counted streams of this replica, by `${direction}|${domain}|${id}`. */
  private readonly slots = new Map<string, Slot>();
  private readonly ttlSeconds: number;
  private readonly fallbacks: Counter<"direction"> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly replicaId: string,
    private readonly log: Logger,
    options: SessionRegistryOptions = {},
  ) {
    this.ttlSeconds = options.ttlSeconds ?? TTL_SECONDS;
    this.fallbacks =
      options.metrics === undefined
        ? undefined
        : new Counter({ name: "passerelle_edge_limit_fallbacks_total", help: "Connection limit checks counted on this replica alone because Redis did not answer", labelNames: ["direction"], registers: [options.metrics] });
  }

  start(): void {
    this.timer = setInterval(() => void this.refresh(), (this.ttlSeconds / 3) * 1000);
    this.timer.unref();
  }

  /**
   * Count one stream to `domain` (inbound: one per authenticated domain of a stream; outbound: one
   * per link) against the partner's and the gateway's limits across every replica. Admitted: it
   * counts until release(). Refused: nothing is recorded. Redis unreachable: this replica's count.
   */
  async acquire(direction: Direction, domain: string, id: string, limits: { partner: number; gateway: number }): Promise<LimitVerdict> {
    const slotKey = `${direction}|${domain}|${id}`;
    const slot: Slot = { direction, domain, id };
    this.slots.set(slotKey, slot);
    const member = `${this.replicaId}|${id}`;
    const now = Date.now();
    let outcome: number;
    try {
      outcome = await withTimeout(
        this.redis.eval(ACQUIRE, 2, this.partnerKey(direction, domain), this.gatewayKey(direction), member, now, now + this.ttlSeconds * 1000, limits.partner, limits.gateway, this.ttlSeconds * 1000) as Promise<number>,
        CHECK_TIMEOUT_MS,
      );
    } catch (err) {
      this.fallbacks?.inc({ direction });
      this.log.warn({ err: (err as Error).message, direction, partner: domain }, "connection limits counted on this replica alone: Redis did not answer");
      if (this.slots.get(slotKey) !== slot) return { admitted: true };
      outcome = this.localOutcome(slot, limits);
    }
    if (outcome === 0) {
      slot.admitted = true;
      // Released while Redis answered: take it back out.
      if (this.slots.get(slotKey) !== slot) this.forget(slot);
      return { admitted: true };
    }
    if (this.slots.get(slotKey) === slot) this.slots.delete(slotKey);
    const where = direction === "inbound" ? `from ${domain}` : `to ${domain}`;
    return outcome === 1
      ? { admitted: false, limit: "partner", text: `the partner connection limit (${limits.partner} ${direction} streams ${where} across the gateway) is reached` }
      : { admitted: false, limit: "gateway", text: `the gateway connection limit (${limits.gateway} ${direction} streams) is reached` };
  }

  /** The stream `id` (every domain it counted for) no longer counts. */
  release(direction: Direction, id: string): void {
    for (const [key, slot] of this.slots) {
      if (slot.direction !== direction || slot.id !== id) continue;
      this.slots.delete(key);
      this.forget(slot);
    }
  }

  private forget(slot: Slot): void {
    const member = `${this.replicaId}|${slot.id}`;
    const stillCounted = [...this.slots.values()].some((s) => s.direction === slot.direction && s.id === slot.id);
    const multi = this.redis.multi().zrem(this.partnerKey(slot.direction, slot.domain), member);
    if (!stillCounted) multi.zrem(this.gatewayKey(slot.direction), member);
    multi.exec().catch((err: Error) => this.log.warn({ err: err.message }, "could not release a connection slot in Redis (it lapses on its own)"));
  }

  /** This replica's own count, when Redis cannot be asked (the slot is already in `slots`). */
  private localOutcome(slot: Slot, limits: { partner: number; gateway: number }): number {
    let partner = 0;
    const streams = new Set<string>();
    for (const s of this.slots.values()) {
      if (s.direction !== slot.direction) continue;
      streams.add(s.id);
      if (s.domain === slot.domain) partner++;
    }
    if (partner > limits.partner) return 1;
    if (streams.size > limits.gateway) return 2;
    return 0;
  }

  private partnerKey(direction: Direction, domain: string): string {
    return `passerelle:edge:limit:${direction}:partner:${domain}`;
  }

  private gatewayKey(direction: Direction): string {
    return `passerelle:edge:limit:${direction}:gateway`;
  }

  add(streamId: string, fields: { domains: string[]; method: string; tls: boolean }): void {
    const session: Session = { domains: fields.domains.join(" "), method: fields.method, tls: fields.tls, since: Date.now() };
    this.live.set(streamId, session);
    const record = this.record(session);
    this.redis
      .multi()
      .hset(`passerelle:edge:stream:${streamId}`, record)
      .expire(`passerelle:edge:stream:${streamId}`, this.ttlSeconds)
      .sadd(`passerelle:edge:replica:${this.replicaId}`, streamId)
      .expire(`passerelle:edge:replica:${this.replicaId}`, this.ttlSeconds)
      .exec()
      .catch((err: Error) => this.log.warn({ err: err.message }, "could not record a session in Redis"));
  }

  remove(streamId: string): void {
    if (!this.live.delete(streamId)) return;
    this.redis
      .multi()
      .del(`passerelle:edge:stream:${streamId}`)
      .srem(`passerelle:edge:replica:${this.replicaId}`, streamId)
      .exec()
      .catch((err: Error) => this.log.warn({ err: err.message }, "could not remove a session from Redis"));
  }

  /** Push back the expiry of everything this replica holds (also re-adds it after a Redis loss). */
  async refresh(): Promise<void> {
    const multi = this.redis.multi();
    for (const [id, session] of this.live) {
      multi.hset(`passerelle:edge:stream:${id}`, this.record(session)).expire(`passerelle:edge:stream:${id}`, this.ttlSeconds);
    }
    multi.expire(`passerelle:edge:replica:${this.replicaId}`, this.ttlSeconds);
    const expiry = Date.now() + this.ttlSeconds * 1000;
    const keys = new Set<string>();
    for (const slot of this.slots.values()) {
      if (slot.admitted !== true) continue;
      const member = `${this.replicaId}|${slot.id}`;
      const partnerKey = this.partnerKey(slot.direction, slot.domain);
      multi.zadd(partnerKey, expiry, member).zadd(this.gatewayKey(slot.direction), expiry, member);
      keys.add(partnerKey).add(this.gatewayKey(slot.direction));
    }
    for (const key of keys) multi.pexpire(key, this.ttlSeconds * 1000);
    await multi.exec().catch((err: Error) => this.log.warn({ err: err.message }, "could not refresh sessions in Redis"));
  }

  private record(session: Session): Record<string, string> {
    return {
      replica: this.replicaId,
      domains: session.domains,
      method: session.method,
      tls: String(session.tls),
      since: new Date(session.since).toISOString(),
    };
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    const ids = [...this.live.keys()];
    const slots = [...this.slots.values()];
    this.live.clear();
    this.slots.clear();
    if (ids.length === 0 && slots.length === 0) return;
    const multi = this.redis.multi();
    if (ids.length > 0) multi.del(...ids.map((id) => `passerelle:edge:stream:${id}`)).del(`passerelle:edge:replica:${this.replicaId}`);
    for (const slot of slots) {
      const member = `${this.replicaId}|${slot.id}`;
      multi.zrem(this.partnerKey(slot.direction, slot.domain), member).zrem(this.gatewayKey(slot.direction), member);
    }
    await multi.exec().catch(() => undefined);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
