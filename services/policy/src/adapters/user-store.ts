/**
 * Internal users' federation settings, owned by policy (ARCHITECTURE.md: nobody else reads these
 * keys): whether a user may use XMPP at all, and which XMPP contacts the user has allowed.
 *
 *   passerelle:policy:xmpp-access:{user}  "1" | "0"   (absent: the gateway default)
 *   passerelle:policy:allow:{user}        SET of bare JIDs
 */
import type { Redis } from "ioredis";
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

export class UserStore {
  constructor(
    private readonly redis: Redis,
    /** The live gateway-wide default (policy's settings store). */
    private readonly xmppAccessDefaultOf: () => boolean,
  ) {}

  private get xmppAccessDefault(): boolean {
    return this.xmppAccessDefaultOf();
  }

  async hasXmppAccess(user: string): Promise<boolean> {
    const value = await this.redis.get(accessKey(user));
    return value === null ? this.xmppAccessDefault : value === "1";
  }

  async setXmppAccess(user: string, allowed: boolean | null, by?: AuditBy): Promise<void> {
    const previous = await this.redis.get(accessKey(user));
    const multi = this.redis.multi();
    if (allowed === null) multi.del(accessKey(user));
    else multi.set(accessKey(user), allowed ? "1" : "0");
    if (by !== undefined) {
      const before = previous === null ? null : previous === "1";
      appendAudit(multi, { actor: by.actor, action: "user.xmpp-access", target: user, before: { xmppAccess: before }, after: { xmppAccess: allowed } });
    }
    await execAll(multi);
  }

  async isAllowed(user: string, contact: string): Promise<boolean> {
    return (await this.redis.sismember(allowKey(user), contact)) === 1;
  }

  /** One round trip for both facts the hot path needs. */
  async factsFor(user: string, contact: string): Promise<{ xmppAccess: boolean; allowed: boolean }> {
    const results = await this.redis.multi().get(accessKey(user)).sismember(allowKey(user), contact).exec();
    if (results === null) throw new Error("Redis transaction aborted");
    const [accessResult, allowedResult] = results;
    if (accessResult?.[0] || allowedResult?.[0]) throw accessResult?.[0] ?? allowedResult?.[0];
    const access = accessResult?.[1] as string | null;
    return {
      xmppAccess: access === null || access === undefined ? this.xmppAccessDefault : access === "1",
      allowed: allowedResult?.[1] === 1,
    };
  }

  async allow(user: string, contact: string, by?: AuditBy): Promise<boolean> {
    if (by === undefined) return (await this.redis.sadd(allowKey(user), contact)) === 1;
    if (await this.isAllowed(user, contact)) return false;
    const multi = this.redis.multi().sadd(allowKey(user), contact);
    appendAudit(multi, { actor: by.actor, action: "user.allow", target: user, before: { allowed: false, contact }, after: { allowed: true, contact } });
    return (await execAll(multi))[0] === 1;
  }

  async disallow(user: string, contact: string, by?: AuditBy): Promise<boolean> {
    if (by === undefined) return (await this.redis.srem(allowKey(user), contact)) === 1;
    if (!(await this.isAllowed(user, contact))) return false;
    const multi = this.redis.multi().srem(allowKey(user), contact);
    appendAudit(multi, { actor: by.actor, action: "user.disallow", target: user, before: { allowed: true, contact }, after: { allowed: false, contact } });
    return (await execAll(multi))[0] === 1;
  }

  async allowed(user: string): Promise<string[]> {
    return (await this.redis.smembers(allowKey(user))).sort();
  }
}
