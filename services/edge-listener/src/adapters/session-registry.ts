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

/** What is kept per stream (the Redis hash is built from it at each refresh: streams are many). */
interface Session {
  domains: string;
  method: string;
  tls: boolean;
  since: number;
}

export class SessionRegistry {
  private readonly live = new Map<string, Session>();
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
    const session: Session = { domains: fields.domains.join(" "), method: fields.method, tls: fields.tls, since: Date.now() };
    this.live.set(streamId, session);
    const record = this.record(session);
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
    for (const [id, session] of this.live) {
      multi.hset(`passerelle:edge:stream:${id}`, this.record(session)).expire(`passerelle:edge:stream:${id}`, TTL_SECONDS);
    }
    multi.expire(`passerelle:edge:replica:${this.replicaId}`, TTL_SECONDS);
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
