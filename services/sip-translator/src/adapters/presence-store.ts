/**
 * Presence subscription records, owned by the sip-translator (ARCHITECTURE.md: nobody else reads
 * these keys). One record per (internal user, XMPP contact) pair:
 *
 *   passerelle:translator:presence:pair:{user}|{contact}   JSON PairRecord (no expiry; deleted when back to "none" with no dialog)
 *   passerelle:translator:presence:call:{Call-ID}          "{user}|{contact}" for the SIP dialogs of the pair (expires with them)
 *   passerelle:translator:presence:due                     ZSET of "{user}|{contact}" by the time of its next refresh (ms)
 *   passerelle:translator:presence:held:{user}             SET of contacts whose subscription waits for the user's authorisation
 *   passerelle:translator:presence:guarded:{user}          SET of Public unverified contacts held or approved (an allow-list change re-checks them)
 */
import type { Redis } from "ioredis";
import type { PartnerKind } from "@passerelle/contracts";
import type { PresenceInfo } from "../domain/presence-mapping.ts";
import type { SubscriptionState } from "../domain/subscription-state.ts";

const PREFIX = "passerelle:translator:presence:";

/** The gateway's SUBSCRIBE to the internal user's presence, on behalf of the contact (RFC 3856). */
export interface WatchDialog {
  callId: string;
  fromTag: string;
  toTag?: string;
  cseq: number;
  /** The presence server's Contact (remote target of the dialog). */
  target?: string;
  expiresAt: number;
}

/** The internal user's SIP watch of the contact, served by the gateway (RFC 6665 notifier). */
export interface WatcherDialog {
  callId: string;
  /** Our tag (the To-tag we gave). */
  localTag: string;
  /** The watcher's From header, with its tag. */
  remote: string;
  /** The To of the SUBSCRIBE, without tag (the contact's SIP URI). */
  local: string;
  /** The watcher's Contact URI. */
  target: string;
  /** Record-Route of the SUBSCRIBE, in order (our route set as UAS, RFC 3261 §12.1.1). */
  routes: string[];
  cseq: number;
  expiresAt: number;
}

export interface PairRecord {
  user: string;
  contact: string;
  state: SubscriptionState;
  partnerType: PartnerKind;
  watch?: WatchDialog;
  watcher?: WatcherDialog;
  /** The internal user's presence as last notified by the presence server (with its note). */
  userPresence?: PresenceInfo;
  /** The contact's presence by resource. */
  contactPresence?: Record<string, PresenceInfo>;
  /** When the contact was last probed (ms). */
  probedAt?: number;
  /** SUBSCRIBEs the presence server refused in a row (the retry backs off). */
  watchFailures?: number;
}

export interface PresenceStore {
  get(user: string, contact: string): Promise<PairRecord | undefined>;
  /** Saves the record, its held and guarded set memberships and its next refresh time (undefined: none). */
  put(record: PairRecord, sets: PairSets, dueAt: number | undefined): Promise<void>;
  remove(user: string, contact: string): Promise<void>;
  bindCall(callId: string, user: string, contact: string, ttlSeconds: number): Promise<void>;
  unbindCall(callId: string): Promise<void>;
  byCall(callId: string): Promise<{ user: string; contact: string } | undefined>;
  /**
   * Pairs whose refresh time has come, at most `limit`, claimed for `leaseMs`: other replicas do not
   * get them again before then (saving the record sets the real next time).
   */
  due(now: number, limit: number, leaseMs?: number): Promise<{ user: string; contact: string }[]>;
  held(user: string): Promise<string[]>;
  guarded(user: string): Promise<string[]>;
}

export interface PairSets {
  /** Waits for the user's authorisation. */
  held: boolean;
  /** Depends on the user's authorisation (Public unverified, held or approved). */
  guarded: boolean;
}

const CLAIM_DUE = `
local keys = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, k in ipairs(keys) do redis.call('ZADD', KEYS[1], ARGV[3], k) end
return keys`;

export const pairKey = (user: string, contact: string): string => `${user}|${contact}`;
function splitPair(key: string): { user: string; contact: string } | undefined {
  const at = key.indexOf("|");
  return at <= 0 ? undefined : { user: key.slice(0, at), contact: key.slice(at + 1) };
}

export class RedisPresenceStore implements PresenceStore {
  constructor(private readonly redis: Redis) {}

  async get(user: string, contact: string): Promise<PairRecord | undefined> {
    const raw = await this.redis.get(`${PREFIX}pair:${pairKey(user, contact)}`);
    return raw === null ? undefined : (JSON.parse(raw) as PairRecord);
  }

  async put(record: PairRecord, sets: PairSets, dueAt: number | undefined): Promise<void> {
    const key = pairKey(record.user, record.contact);
    const tx = this.redis.multi().set(`${PREFIX}pair:${key}`, JSON.stringify(record));
    for (const name of ["held", "guarded"] as const) {
      if (sets[name]) tx.sadd(`${PREFIX}${name}:${record.user}`, record.contact);
      else tx.srem(`${PREFIX}${name}:${record.user}`, record.contact);
    }
    if (dueAt === undefined) tx.zrem(`${PREFIX}due`, key);
    else tx.zadd(`${PREFIX}due`, dueAt, key);
    await tx.exec();
  }

  async remove(user: string, contact: string): Promise<void> {
    const key = pairKey(user, contact);
    await this.redis
      .multi()
      .del(`${PREFIX}pair:${key}`)
      .srem(`${PREFIX}held:${user}`, contact)
      .srem(`${PREFIX}guarded:${user}`, contact)
      .zrem(`${PREFIX}due`, key)
      .exec();
  }

  async bindCall(callId: string, user: string, contact: string, ttlSeconds: number): Promise<void> {
    await this.redis.set(`${PREFIX}call:${callId}`, pairKey(user, contact), "EX", Math.max(1, Math.ceil(ttlSeconds)));
  }

  async unbindCall(callId: string): Promise<void> {
    await this.redis.del(`${PREFIX}call:${callId}`);
  }

  async byCall(callId: string): Promise<{ user: string; contact: string } | undefined> {
    const raw = await this.redis.get(`${PREFIX}call:${callId}`);
    return raw === null ? undefined : splitPair(raw);
  }

  async due(now: number, limit: number, leaseMs = 60_000): Promise<{ user: string; contact: string }[]> {
    // One step in Redis: take the due pairs and push them back by the lease, so one replica refreshes each.
    const keys = (await this.redis.eval(CLAIM_DUE, 1, `${PREFIX}due`, String(now), String(limit), String(now + leaseMs))) as string[];
    return keys.map(splitPair).filter((p): p is { user: string; contact: string } => p !== undefined);
  }

  async held(user: string): Promise<string[]> {
    return (await this.redis.smembers(`${PREFIX}held:${user}`)).sort();
  }

  async guarded(user: string): Promise<string[]> {
    return (await this.redis.smembers(`${PREFIX}guarded:${user}`)).sort();
  }
}

/** The same in memory, for tests. */
export class MemoryPresenceStore implements PresenceStore {
  readonly records = new Map<string, PairRecord>();
  readonly calls = new Map<string, string>();
  readonly dueAt = new Map<string, number>();
  readonly heldSets = new Map<string, Set<string>>();
  readonly guardedSets = new Map<string, Set<string>>();

  get(user: string, contact: string): Promise<PairRecord | undefined> {
    const r = this.records.get(pairKey(user, contact));
    return Promise.resolve(r === undefined ? undefined : (JSON.parse(JSON.stringify(r)) as PairRecord));
  }
  put(record: PairRecord, sets: PairSets, dueAt: number | undefined): Promise<void> {
    const key = pairKey(record.user, record.contact);
    this.records.set(key, JSON.parse(JSON.stringify(record)) as PairRecord);
    for (const [all, member] of [
      [this.heldSets, sets.held],
      [this.guardedSets, sets.guarded],
    ] as const) {
      const set = all.get(record.user) ?? new Set<string>();
      if (member) set.add(record.contact);
      else set.delete(record.contact);
      all.set(record.user, set);
    }
    if (dueAt === undefined) this.dueAt.delete(key);
    else this.dueAt.set(key, dueAt);
    return Promise.resolve();
  }
  remove(user: string, contact: string): Promise<void> {
    const key = pairKey(user, contact);
    this.records.delete(key);
    this.heldSets.get(user)?.delete(contact);
    this.guardedSets.get(user)?.delete(contact);
    this.dueAt.delete(key);
    return Promise.resolve();
  }
  bindCall(callId: string, user: string, contact: string): Promise<void> {
    this.calls.set(callId, pairKey(user, contact));
    return Promise.resolve();
  }
  unbindCall(callId: string): Promise<void> {
    this.calls.delete(callId);
    return Promise.resolve();
  }
  byCall(callId: string): Promise<{ user: string; contact: string } | undefined> {
    const raw = this.calls.get(callId);
    return Promise.resolve(raw === undefined ? undefined : splitPair(raw));
  }
  due(now: number, limit: number, leaseMs = 60_000): Promise<{ user: string; contact: string }[]> {
    const out = [...this.dueAt].filter(([, at]) => at <= now).slice(0, limit);
    for (const [k] of out) this.dueAt.set(k, now + leaseMs);
    return Promise.resolve(out.map(([k]) => splitPair(k)).filter((p): p is { user: string; contact: string } => p !== undefined));
  }
  held(user: string): Promise<string[]> {
    return Promise.resolve([...(this.heldSets.get(user) ?? [])].sort());
  }
  guarded(user: string): Promise<string[]> {
    return Promise.resolve([...(this.guardedSets.get(user) ?? [])].sort());
  }
}
