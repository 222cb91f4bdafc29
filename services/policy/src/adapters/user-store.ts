/**
 * Internal users' federation settings, owned by policy (ARCHITECTURE.md: nobody else reads these
 * keys): whether a user may use XMPP at all, and which XMPP contacts the user has allowed.
 *
 *   passerelle:policy:xmpp-access:{user}  "1" | "0"   (absent: the gateway default)
 *   passerelle:policy:allow:{user}        SET of bare JIDs
 */
import type { Redis } from "ioredis";

const accessKey = (user: string) => `passerelle:policy:xmpp-access:${user}`;
const allowKey = (user: string) => `passerelle:policy:allow:${user}`;

export class UserStore {
  constructor(
    private readonly redis: Redis,
    private readonly xmppAccessDefault: boolean,
  ) {}

  async hasXmppAccess(user: string): Promise<boolean> {
    const value = await this.redis.get(accessKey(user));
    return value === null ? this.xmppAccessDefault : value === "1";
  }

  async setXmppAccess(user: string, allowed: boolean | null): Promise<void> {
    if (allowed === null) await this.redis.del(accessKey(user));
    else await this.redis.set(accessKey(user), allowed ? "1" : "0");
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

  async allow(user: string, contact: string): Promise<boolean> {
    return (await this.redis.sadd(allowKey(user), contact)) === 1;
  }

  async disallow(user: string, contact: string): Promise<boolean> {
    return (await this.redis.srem(allowKey(user), contact)) === 1;
  }

  async allowed(user: string): Promise<string[]> {
    return (await this.redis.smembers(allowKey(user))).sort();
  }
}
