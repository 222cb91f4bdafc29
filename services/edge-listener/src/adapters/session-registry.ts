/**
 * Authenticated streams in Redis (owned by the edge listener): which replica holds a stream and
 * which domains it authenticated, so the admin and other replicas can see them.
 *
 *   passerelle:edge:stream:{streamId}   HASH replica, domains, method, tls, since   (TTL, refreshed)
 *   passerelle:edge:replica:{replicaId} SET of stream ids                          (TTL, refreshed)
 */
import type { Redis } from "ioredis";
import type { Logger } from "@passerelle/telemetry";

const TTL_SECONDS = 120;

export class SessionRegistry {
  private readonly live = new Map<string, Record<string, string>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly replicaId: string,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.refresh(), (TTL_SECONDS / 3) * 1000);
    this.timer.unref();
  }

  add(streamId: string, fields: { domains: string[]; method: string; tls: boolean }): void {
    const record = {
      replica: this.replicaId,
      domains: fields.domains.join(" "),
      method: fields.method,
      tls: String(fields.tls),
      since: new Date().toISOString(),
    };
    this.live.set(streamId, record);
    this.redis
      .multi()
      .hset(`passerelle:edge:stream:${streamId}`, record)
      .expire(`passerelle:edge:stream:${streamId}`, TTL_SECONDS)
      .sadd(`passerelle:edge:replica:${this.replicaId}`, streamId)
      .expire(`passerelle:edge:replica:${this.replicaId}`, TTL_SECONDS)
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

  private async refresh(): Promise<void> {
    const multi = this.redis.multi();
    for (const [id, record] of this.live) {
      multi.hset(`passerelle:edge:stream:${id}`, record).expire(`passerelle:edge:stream:${id}`, TTL_SECONDS);
    }
    multi.expire(`passerelle:edge:replica:${this.replicaId}`, TTL_SECONDS);
    await multi.exec().catch((err: Error) => this.log.warn({ err: err.message }, "could not refresh sessions in Redis"));
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    const ids = [...this.live.keys()];
    this.live.clear();
    if (ids.length === 0) return;
    await this.redis
      .multi()
      .del(...ids.map((id) => `passerelle:edge:stream:${id}`))
      .del(`passerelle:edge:replica:${this.replicaId}`)
      .exec()
      .catch(() => undefined);
  }
}
