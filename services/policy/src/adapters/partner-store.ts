/**
 * The partner store, owned by policy (ARCHITECTURE.md: nobody else reads these keys; other
 * services ask for a snapshot over NATS). Every write is one Lua script: it checks the revision
 * the caller read (compare-and-set, so two admins on two replicas cannot overwrite each other),
 * applies the change, bumps the revision and appends the audit entry — all or nothing.
 *
 *   passerelle:policy:partners            HASH primary domain → JSON entry (partnerSchema's output)
 *   passerelle:policy:partners:revision   integer, +1 per change
 *   passerelle:policy:settings            JSON live gateway-wide settings ({ xmppAccessDefault })
 *   passerelle:policy:partners:seeded     ISO time the configuration file seeded the store (once)
 *   passerelle:policy:audit               STREAM (see audit-log.ts)
 */
import type { Redis } from "ioredis";
import { partnerEntry, type LiveSettings, type PartnerConfig } from "@passerelle/config";
import { AUDIT_KEY, AUDIT_MAX_ENTRIES, auditFields, type AuditRecord } from "./audit-log.ts";

export const PARTNERS_KEY = "passerelle:policy:partners";
export const REVISION_KEY = "passerelle:policy:partners:revision";
export const SETTINGS_KEY = "passerelle:policy:settings";
export const SEEDED_KEY = "passerelle:policy:partners:seeded";

export interface StoreSnapshot {
  revision: number;
  partners: PartnerConfig[];
  settings: LiveSettings;
}

export interface StoreChange {
  /** Primary domains to delete. */
  remove: string[];
  /** Entries to write (keyed by their primary domain). */
  put: PartnerConfig[];
  settings?: LiveSettings;
}

export class RevisionConflict extends Error {
  override name = "RevisionConflict";
}

// KEYS: partners, revision, settings, seeded, audit. ARGV: expected revision ("" = any), mode
// ("write" | "seed"), change JSON, audit max length, seed time, audit field/value pairs...
// Returns the new revision, -1 on a revision conflict, -2 when the store was already seeded.
const APPLY = `
local current = tonumber(redis.call('GET', KEYS[2]) or '0')
if ARGV[2] == 'seed' then
  if redis.call('EXISTS', KEYS[4]) == 1 then return -2 end
elseif ARGV[1] ~= '' and tonumber(ARGV[1]) ~= current then
  return -1
end
local change = cjson.decode(ARGV[3])
for _, d in ipairs(change.remove) do redis.call('HDEL', KEYS[1], d) end
for _, pair in ipairs(change.put) do redis.call('HSET', KEYS[1], pair[1], pair[2]) end
if type(change.settings) == 'string' then redis.call('SET', KEYS[3], change.settings) end
if ARGV[2] == 'seed' then redis.call('SET', KEYS[4], ARGV[5]) end
local rev = redis.call('INCR', KEYS[2])
local fields = {}
for i = 6, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[4], '*', 'revision', rev, unpack(fields))
return rev
`;

type ApplyCommand = (k1: string, k2: string, k3: string, k4: string, k5: string, ...argv: (string | number)[]) => Promise<number>;

export class PartnerStore {
  private readonly applyScript: ApplyCommand;

  constructor(
    private readonly redis: Redis,
    /** Settings used until the store holds its own (before the seed). */
    private readonly defaultSettings: LiveSettings,
  ) {
    if (!("passerelleApplyPartners" in redis)) redis.defineCommand("passerelleApplyPartners", { numberOfKeys: 5, lua: APPLY });
    const command = (redis as unknown as { passerelleApplyPartners: ApplyCommand }).passerelleApplyPartners;
    this.applyScript = command.bind(redis);
  }

  /** Entries, revision and settings as of one moment (one MULTI). */
  async snapshot(): Promise<StoreSnapshot> {
    const results = await this.redis.multi().hgetall(PARTNERS_KEY).get(REVISION_KEY).get(SETTINGS_KEY).exec();
    if (results === null) throw new Error("Redis transaction aborted");
    for (const [err] of results) if (err) throw err;
    const hash = (results[0]?.[1] ?? {}) as Record<string, string>;
    const revision = Number((results[1]?.[1] as string | null) ?? "0");
    const settingsText = results[2]?.[1] as string | null;
    const partners = Object.values(hash)
      .map((json) => JSON.parse(json) as PartnerConfig)
      .sort((a, b) => a.domain.localeCompare(b.domain));
    const settings = settingsText === null || settingsText === undefined ? { ...this.defaultSettings } : { ...this.defaultSettings, ...(JSON.parse(settingsText) as Partial<LiveSettings>) };
    return { revision, partners, settings };
  }

  /**
   * Apply `change` if the store is still at `expectedRevision`; throws RevisionConflict otherwise.
   * Returns the new revision.
   */
  async apply(expectedRevision: number, change: StoreChange, audit: AuditRecord): Promise<number> {
    const result = await this.run("write", String(expectedRevision), change, audit);
    if (result === -1) throw new RevisionConflict(`the partner store changed meanwhile (expected revision ${expectedRevision})`);
    return result;
  }

  /**
   * First start only: write the configuration file's partners and settings, unless the store was
   * seeded before (later starts never overwrite what the admin changed). Returns whether it seeded.
   */
  async seed(partners: readonly PartnerConfig[], settings: LiveSettings, source: string): Promise<{ seeded: boolean; revision: number }> {
    const entries = partners.map(partnerEntry);
    const result = await this.run("seed", "", { remove: [], put: entries, settings }, { actor: `seed:${source}`, action: "import", target: "partners", before: null, after: { partners: entries.map((p) => p.domain), settings } });
    if (result === -2) return { seeded: false, revision: (await this.snapshot()).revision };
    return { seeded: true, revision: result };
  }

  async seededAt(): Promise<string | null> {
    return this.redis.get(SEEDED_KEY);
  }

  private async run(mode: "write" | "seed", expected: string, change: StoreChange, audit: AuditRecord): Promise<number> {
    const payload = JSON.stringify({
      remove: change.remove,
      put: change.put.map((p) => [p.domain, JSON.stringify(partnerEntry(p))]),
      ...(change.settings === undefined ? {} : { settings: JSON.stringify(change.settings) }),
    });
    const result = await this.applyScript(PARTNERS_KEY, REVISION_KEY, SETTINGS_KEY, SEEDED_KEY, AUDIT_KEY, expected, mode, payload, AUDIT_MAX_ENTRIES, new Date().toISOString(), ...auditFields(audit));
    return Number(result);
  }
}
