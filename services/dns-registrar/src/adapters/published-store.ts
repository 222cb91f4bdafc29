/**
 * What this registrar published, remembered in Redis so that a record is removed when its domain
 * goes — even by another replica, or after a restart. One hash, `passerelle:dns:published`:
 * field = the owner name (`_xmpp-server._tcp.<domain>` or, XEP-0368, `_xmpps-server._tcp.<domain>`),
 * value = JSON { domain, zone, records }.
 */
import type { ServiceContext } from "@passerelle/runtime";
import type { SrvData } from "../protocol/update.ts";

export const PUBLISHED_KEY = "passerelle:dns:published";
/** Redis is ours, but what it holds is read back as input: bounded and checked. */
const MAX_ENTRIES = 10_000;
const MAX_RECORDS = 32;

type Redis = ServiceContext["redis"];

export interface PublishedRrset {
  readonly domain: string;
  readonly name: string;
  readonly zone: string;
  readonly records: readonly SrvData[];
}

function isSrv(value: unknown): value is SrvData {
  if (typeof value !== "object" || value === null) return false;
  const r = value as Record<string, unknown>;
  const u16 = (n: unknown): boolean => typeof n === "number" && Number.isInteger(n) && n >= 0 && n <= 65535;
  return u16(r.priority) && u16(r.weight) && u16(r.port) && typeof r.target === "string" && r.target.length > 0 && r.target.length <= 253;
}

/** A stored entry, or undefined when it is not one we could have written. */
export function parsePublished(name: string, text: string): PublishedRrset | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.domain !== "string" || typeof v.zone !== "string" || !Array.isArray(v.records)) return undefined;
  if (v.records.length > MAX_RECORDS || !v.records.every(isSrv)) return undefined;
  if (name !== `_xmpp-server._tcp.${v.domain}` && name !== `_xmpps-server._tcp.${v.domain}`) return undefined;
  return { domain: v.domain, name, zone: v.zone, records: v.records };
}

export class PublishedStore {
  constructor(private readonly redis: Redis) {}

  /** Every entry; malformed ones are returned apart so the caller can report them. */
  async all(): Promise<{ entries: PublishedRrset[]; malformed: string[] }> {
    const count = await this.redis.hlen(PUBLISHED_KEY);
    if (count > MAX_ENTRIES) throw new Error(`${PUBLISHED_KEY} holds ${count} entries, more than ${MAX_ENTRIES}`);
    const raw = await this.redis.hgetall(PUBLISHED_KEY);
    const entries: PublishedRrset[] = [];
    const malformed: string[] = [];
    for (const [name, text] of Object.entries(raw)) {
      const entry = parsePublished(name, text);
      if (entry === undefined) malformed.push(name);
      else entries.push(entry);
    }
    return { entries, malformed };
  }

  async remember(rrset: PublishedRrset): Promise<void> {
    await this.redis.hset(PUBLISHED_KEY, rrset.name, JSON.stringify({ domain: rrset.domain, zone: rrset.zone, records: rrset.records }));
  }

  async forget(name: string): Promise<void> {
    await this.redis.hdel(PUBLISHED_KEY, name);
  }
}
