/**
 * Internal users' federation settings, owned by policy (ARCHITECTURE.md: nobody else reads these
 * keys): whether a user may use XMPP at all, and which XMPP contacts the user has allowed.
 *
 *   passerelle:policy:xmpp-access:{user}  "1" | "0"   (absent: the gateway default)
 *   passerelle:policy:allow:{user}        SET of bare JIDs
 *
 * The hot path (`factsFor`: every inbound message, every outbound authorisation) reads through an
 * in-process cache, so a conversation costs one Redis round trip per `ttlMs`, not one per stanza.
 * Every change goes through policy, which publishes `config.changed` (kind "user" or "allowlist",
 * key the user) after writing: `watch` drops that user's entry on every replica, a change made
 * here drops it at once, a NATS reconnect (events may have been missed) drops everything, and an
 * entry older than `ttlMs` is read again anyway (core NATS is at most once). The admin API's reads
 * (`hasXmppAccess`, `allowed`) always go to Redis.
 */
import type { Redis } from "ioredis";
import { subjects, type ConfigChanged } from "@passerelle/contracts";
import type { Bus } from "@passerelle/runtime";
import { appendAudit, type AuditRecord } from "./audit-log.ts";

/** Who changes a setting through the admin API (the change and its audit entry are one transaction). */
export type AuditBy = Pick<AuditRecord, "actor">;

async function execAll(multi: ReturnType<Redis["multi"]>): Promise<unknown[]> {
  const results = await multi.exec();
  if (results === null) throw new Error("Redis transaction aborted");
  return results.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}

const accessKey = (user: string) => `passerelle:policy:xmpp-access:${user}`;
const allowKey = (user: string) => `passerelle:policy:allow:${user}`;

export interface UserFacts {
  xmppAccess: boolean;
  allowed: boolean;
}

export interface UserCacheOptions {
  /** How long a cached fact is trusted without an event (ms); 0 turns the cache off. */
  ttlMs?: number;
  /** Users kept (oldest dropped first). */
  maxUsers?: number;
  /** Contacts kept per user (oldest dropped first). */
  maxContactsPerUser?: number;
  now?: () => number;
}

interface CachedUser {
  /** The stored value: "1", "0" or null (the live default applies). */
  access: string | null;
  loadedAt: number;
  contacts: Map<string, boolean>;
}

export class UserStore {
  private readonly cache = new Map<string, CachedUser>();
  /** Look-ups in progress, shared by the stanzas that need the same fact at the same time. */
  private readonly loading = new Map<string, Promise<UserFacts>>();
  /** Bumped by every invalidation: a read that started before one is not cached. */
  private epoch = 0;
  private readonly ttlMs: number;
  private readonly maxUsers: number;
  private readonly maxContacts: number;
  private readonly now: () => number;

  constructor(
    private readonly redis: Redis,
    /** The live gateway-wide default (policy's settings store). */
    private readonly xmppAccessDefaultOf: () => boolean,
    cache: UserCacheOptions = {},
  ) {
    this.ttlMs = cache.ttlMs ?? 60_000;
    this.maxUsers = cache.maxUsers ?? 100_000;
    this.maxContacts = cache.maxContactsPerUser ?? 1000;
    this.now = cache.now ?? Date.now;
  }

  /**
   * Follow `config.changed` (every replica, no queue group) and NATS reconnects, dropping what
   * they make stale.
   */
  watch(bus: Bus): { drain(): Promise<void> } {
    const sub = bus.subscribe<ConfigChanged>(subjects.configChanged, undefined, ["kind", "key"], (change) => {
      if (change.kind === "user" || change.kind === "allowlist") this.invalidate(change.key);
    });
    let watching = true;
    void (async () => {
      for await (const status of bus.nats.status()) {
        if (!watching) break;
        if (status.type === "reconnect") this.invalidate();
      }
    })().catch(() => undefined);
    return {
      drain: async () => {
        watching = false;
        await sub.drain();
      },
    };
  }

  /** Drop one user's cached facts, or all of them. */
  invalidate(user?: string): void {
    this.epoch++;
    if (user === undefined) this.cache.clear();
    else this.cache.delete(user);
  }

  private get xmppAccessDefault(): boolean {
    return this.xmppAccessDefaultOf();
  }

  async hasXmppAccess(user: string): Promise<boolean> {
    const value = await this.redis.get(accessKey(user));
    return value === null ? this.xmppAccessDefault : value === "1";
  }

  async setXmppAccess(user: string, allowed: boolean | null, by?: AuditBy): Promise<void> {
    await this.changing(user, async () => {
    const previous = await this.redis.get(accessKey(user));
    const multi = this.redis.multi();
    if (allowed === null) multi.del(accessKey(user));
    else multi.set(accessKey(user), allowed ? "1" : "0");
    if (by !== undefined) {
      const before = previous === null ? null : previous === "1";
      appendAudit(multi, { actor: by.actor, action: "user.xmpp-access", target: user, before: { xmppAccess: before }, after: { xmppAccess: allowed } });
    }
    await execAll(multi);
    });
  }

  /** A write through the admin API: the user's cached facts are dropped before and after it. */
  private async changing<T>(user: string, write: () => Promise<T>): Promise<T> {
    this.invalidate(user);
    try {
      return await write();
    } finally {
      this.invalidate(user);
    }
  }

  async isAllowed(user: string, contact: string): Promise<boolean> {
    return (await this.redis.sismember(allowKey(user), contact)) === 1;
  }

  /** Both facts the hot path needs: from the cache, else in one round trip. */
  factsFor(user: string, contact: string): Promise<UserFacts> {
    const cached = this.cache.get(user);
    if (cached !== undefined) {
      if (this.now() - cached.loadedAt >= this.ttlMs) {
        this.cache.delete(user);
      } else {
        const allowed = cached.contacts.get(contact);
        if (allowed !== undefined) return Promise.resolve({ xmppAccess: this.resolveAccess(cached.access), allowed });
      }
    }
    const key = `${user}\n${contact}`;
    let pending = this.loading.get(key);
    if (pending === undefined) {
      pending = this.load(user, contact).finally(() => this.loading.delete(key));
      this.loading.set(key, pending);
    }
    return pending;
  }

  private async load(user: string, contact: string): Promise<UserFacts> {
    const epoch = this.epoch;
    const results = await this.redis.multi().get(accessKey(user)).sismember(allowKey(user), contact).exec();
    if (results === null) throw new Error("Redis transaction aborted");
    const [accessResult, allowedResult] = results;
    if (accessResult?.[0] || allowedResult?.[0]) throw accessResult?.[0] ?? allowedResult?.[0];
    const raw = accessResult?.[1];
    const access = typeof raw === "string" ? raw : null;
    const allowed = allowedResult?.[1] === 1;
    if (this.ttlMs > 0 && epoch === this.epoch) this.remember(user, access, contact, allowed);
    return { xmppAccess: this.resolveAccess(access), allowed };
  }

  private remember(user: string, access: string | null, contact: string, allowed: boolean): void {
    let entry = this.cache.get(user);
    if (entry === undefined || entry.access !== access) {
      if (entry === undefined && this.cache.size >= this.maxUsers) {
        const oldest = this.cache.keys().next();
        if (oldest.done !== true) this.cache.delete(oldest.value);
      }
      entry = { access, loadedAt: this.now(), contacts: new Map() };
      this.cache.set(user, entry);
    }
    if (entry.contacts.size >= this.maxContacts && !entry.contacts.has(contact)) {
      const oldest = entry.contacts.keys().next();
      if (oldest.done !== true) entry.contacts.delete(oldest.value);
    }
    entry.contacts.set(contact, allowed);
  }

  private resolveAccess(access: string | null): boolean {
    return access === null ? this.xmppAccessDefault : access === "1";
  }

  async allow(user: string, contact: string, by?: AuditBy): Promise<boolean> {
    if (by === undefined) {
      // The outbound hot path: a contact the cache knows as allowed needs no write.
      const cached = this.cache.get(user);
      if (cached !== undefined && cached.contacts.get(contact) === true && this.now() - cached.loadedAt < this.ttlMs) return false;
      const epoch = this.epoch;
      const added = (await this.redis.sadd(allowKey(user), contact)) === 1;
      const entry = this.cache.get(user);
      if (epoch === this.epoch && entry !== undefined) entry.contacts.set(contact, true);
      return added;
    }
    return this.changing(user, async () => {
      if (await this.isAllowed(user, contact)) return false;
      const multi = this.redis.multi().sadd(allowKey(user), contact);
      appendAudit(multi, { actor: by.actor, action: "user.allow", target: user, before: { allowed: false, contact }, after: { allowed: true, contact } });
      return (await execAll(multi))[0] === 1;
    });
  }

  async disallow(user: string, contact: string, by?: AuditBy): Promise<boolean> {
    return this.changing(user, async () => {
      if (by === undefined) return (await this.redis.srem(allowKey(user), contact)) === 1;
      if (!(await this.isAllowed(user, contact))) return false;
      const multi = this.redis.multi().srem(allowKey(user), contact);
      appendAudit(multi, { actor: by.actor, action: "user.disallow", target: user, before: { allowed: true, contact }, after: { allowed: false, contact } });
      return (await execAll(multi))[0] === 1;
    });
  }

  async allowed(user: string): Promise<string[]> {
    return (await this.redis.smembers(allowKey(user))).sort();
  }
}
