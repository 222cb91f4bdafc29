/**
 * Partner administration, as both the REST routes and the gRPC service offer it: list, get,
 * create, update, remove partners; read and change live settings; export and import the whole
 * set as YAML; read the audit log. Each write is validated (schema with Lync's defaults,
 * negotiation matrix naming the row, domain ownership), stored atomically with its audit entry
 * (retried when another replica wrote meanwhile), then announced on `config.changed`.
 */
import type { Redis } from "ioredis";
import { parse as parseYaml, stringify as stringifyYaml, YAMLParseError } from "yaml";
import { checkPartner, domainOwners, liveSettingsSchema, partnerEntry, type LiveSettings, type PartnerConfig, type PartnerProblem } from "@passerelle/config";
import type { Logger } from "@passerelle/telemetry";
import { readAudit, type AuditEntry, type AuditRecord } from "./audit-log.ts";
import { RevisionConflict, type PartnerStore, type StoreChange, type StoreSnapshot } from "./partner-store.ts";

/** An admin request refused: HTTP status, a stable code, a human reason, and extra fields. */
export class AdminError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    reason: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(reason);
  }
}

export interface PartnerAdminOptions {
  store: PartnerStore;
  redis: Redis;
  localDomains: ReadonlySet<string>;
  log: Logger;
  /** Announce a change (config.changed). */
  changed(kind: "partner" | "settings", key: string, revision: number): void;
}

export interface ImportResult {
  added: string[];
  changed: string[];
  removed: string[];
  warnings: string[];
  dryRun: boolean;
  revision: number;
}

const MAX_ATTEMPTS = 5;
/** Partner entries an import may hold. */
export const MAX_IMPORT_PARTNERS = 5000;

function refusal(problems: PartnerProblem[]): AdminError {
  const invalid = problems.find((p) => p.kind === "invalid-combination");
  if (invalid !== undefined && invalid.kind === "invalid-combination") return new AdminError(400, "invalid-combination", invalid.reason, { row: invalid.row });
  const exists = problems.find((p) => p.kind === "exists");
  if (exists !== undefined) return new AdminError(409, "exists", exists.reason);
  return new AdminError(400, "bad-body", problems.map((p) => p.reason).join("; "));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export class PartnerAdmin {
  constructor(private readonly o: PartnerAdminOptions) {}

  async list(): Promise<{ revision: number; partners: PartnerConfig[] }> {
    const s = await this.o.store.snapshot();
    return { revision: s.revision, partners: s.partners };
  }

  /** By primary or additional domain. */
  async get(domain: string): Promise<PartnerConfig> {
    return this.find(await this.o.store.snapshot(), domain);
  }

  async create(actor: string, input: unknown): Promise<{ partner: PartnerConfig; warnings: string[]; revision: number }> {
    if (!isObject(input)) throw new AdminError(400, "bad-body", "expected a JSON object: a partner entry");
    return this.write(async (s) => {
      const check = checkPartner(input, { localDomains: this.o.localDomains, owners: domainOwners(s.partners) });
      if (!check.ok) throw refusal(check.problems);
      const partner = partnerEntry(check.partner);
      return {
        change: { remove: [], put: [partner] },
        audit: { actor, action: "partner.create", target: partner.domain, before: null, after: partner },
        result: { partner, warnings: check.warnings },
        events: [["partner", partner.domain]],
      };
    });
  }

  async update(actor: string, domain: string, patch: unknown): Promise<{ partner: PartnerConfig; warnings: string[]; revision: number }> {
    if (!isObject(patch)) throw new AdminError(400, "bad-body", "expected a JSON object: the fields to change");
    return this.write(async (s) => {
      const before = this.find(s, domain);
      if (patch.domain !== undefined && patch.domain !== before.domain) {
        throw new AdminError(400, "bad-body", "domain cannot be changed: remove the partner and create it again (or edit an export and import it)");
      }
      // null clears an optional field (proxyFqdn); other fields keep their value when absent.
      const merged: Record<string, unknown> = { ...before, ...patch, domain: before.domain };
      for (const [k, v] of Object.entries(patch)) if (v === null) delete merged[k];
      const others = domainOwners(s.partners.filter((p) => p.domain !== before.domain));
      const check = checkPartner(merged, { localDomains: this.o.localDomains, owners: others });
      if (!check.ok) throw refusal(check.problems);
      const partner = partnerEntry(check.partner);
      return {
        change: { remove: [], put: [partner] },
        audit: { actor, action: "partner.update", target: partner.domain, before, after: partner },
        result: { partner, warnings: check.warnings },
        events: [["partner", partner.domain]],
      };
    });
  }

  async remove(actor: string, domain: string): Promise<{ revision: number }> {
    return this.write(async (s) => {
      const before = this.find(s, domain);
      return {
        change: { remove: [before.domain], put: [] },
        audit: { actor, action: "partner.remove", target: before.domain, before, after: null },
        result: {},
        events: [["partner", before.domain]],
      };
    });
  }

  async settings(): Promise<LiveSettings> {
    return (await this.o.store.snapshot()).settings;
  }

  async updateSettings(actor: string, patch: unknown): Promise<LiveSettings & { revision: number }> {
    if (!isObject(patch)) throw new AdminError(400, "bad-body", "expected a JSON object: the settings to change");
    const result = await this.write(async (s) => {
      const parsed = liveSettingsSchema.safeParse({ ...s.settings, ...patch });
      if (!parsed.success) throw new AdminError(400, "bad-body", parsed.error.issues.map((i) => `${i.path.join(".") || "(settings)"}: ${i.message}`).join("; "));
      const settings = parsed.data;
      const keys = Object.keys(patch);
      return {
        change: { remove: [], put: [], settings },
        audit: { actor, action: "settings.update", target: keys.join(",") || "settings", before: s.settings, after: settings },
        result: settings,
        events: keys.map((k) => ["settings", k] as const),
      };
    });
    return result;
  }

  /** The whole set, in the configuration file's shape. */
  async exportYaml(): Promise<string> {
    const s = await this.o.store.snapshot();
    return stringifyYaml({ partners: s.partners.map(partnerEntry), settings: s.settings });
  }

  /** Replace the whole set by a YAML document of the export's shape: all of it, or nothing. */
  async importYaml(actor: string, text: string, dryRun: boolean): Promise<ImportResult> {
    let document: unknown;
    try {
      document = parseYaml(text, { maxAliasCount: 100 });
    } catch (err) {
      throw new AdminError(400, "bad-yaml", `not valid YAML: ${err instanceof YAMLParseError ? err.message : String(err)}`);
    }
    if (!isObject(document) || !Array.isArray(document.partners)) {
      throw new AdminError(400, "bad-import", "expected a YAML mapping with a `partners:` list (and optionally `settings:`), as /v1/export writes it");
    }
    const unknownKeys = Object.keys(document).filter((k) => k !== "partners" && k !== "settings");
    const rawPartners = document.partners as unknown[];
    return this.write(async (s) => {
      const problems: string[] = unknownKeys.map((k) => `${k}: not an import key (partners, settings)`);
      if (rawPartners.length > MAX_IMPORT_PARTNERS) problems.push(`partners: at most ${MAX_IMPORT_PARTNERS} entries`);
      const owners = new Map<string, string>();
      const next: PartnerConfig[] = [];
      const warnings: string[] = [];
      rawPartners.slice(0, MAX_IMPORT_PARTNERS).forEach((raw, index) => {
        const name = isObject(raw) && typeof raw.domain === "string" ? raw.domain : "?";
        const check = checkPartner(raw, { localDomains: this.o.localDomains, owners });
        if (!check.ok) {
          for (const p of check.problems) problems.push(`partners[${index}] (${name}): ${p.reason}`);
          return;
        }
        for (const [d, o] of domainOwners([check.partner])) owners.set(d, o);
        next.push(partnerEntry(check.partner));
        warnings.push(...check.warnings);
      });
      let settings = s.settings;
      if (document.settings !== undefined) {
        const parsed = liveSettingsSchema.safeParse(isObject(document.settings) ? { ...s.settings, ...document.settings } : document.settings);
        if (parsed.success) settings = parsed.data;
        else for (const i of parsed.error.issues) problems.push(`settings.${i.path.join(".")}: ${i.message}`);
      }
      if (problems.length > 0) throw new AdminError(400, "invalid-import", `${problems.length} problem(s); nothing was changed`, { problems });

      const current = new Map(s.partners.map((p) => [p.domain, p]));
      const wanted = new Map(next.map((p) => [p.domain, p]));
      const added = next.filter((p) => !current.has(p.domain)).map((p) => p.domain);
      const removed = s.partners.filter((p) => !wanted.has(p.domain)).map((p) => p.domain);
      const changed = next.filter((p) => current.has(p.domain) && JSON.stringify(partnerEntry(current.get(p.domain) as PartnerConfig)) !== JSON.stringify(p)).map((p) => p.domain);
      const settingsChanged = Object.keys(settings).filter((k) => settings[k as keyof LiveSettings] !== s.settings[k as keyof LiveSettings]);
      const summary = { added, changed: [...changed, ...settingsChanged.map((k) => `settings.${k}`)], removed, warnings };
      const nothing = added.length + removed.length + changed.length + settingsChanged.length === 0;
      if (dryRun || nothing) return { skip: true, result: { ...summary, dryRun } };
      return {
        change: { remove: removed, put: next.filter((p) => added.includes(p.domain) || changed.includes(p.domain)), settings },
        audit: {
          actor,
          action: "import",
          target: "partners",
          before: { partners: s.partners.filter((p) => removed.includes(p.domain) || changed.includes(p.domain)), settings: s.settings },
          after: { partners: next.filter((p) => added.includes(p.domain) || changed.includes(p.domain)), removed, settings },
        },
        result: { ...summary, dryRun },
        events: [["partner", "*"], ...settingsChanged.map((k) => ["settings", k] as const)],
      };
    });
  }

  async audit(limit: number): Promise<AuditEntry[]> {
    return readAudit(this.o.redis, limit);
  }

  private find(s: StoreSnapshot, domain: string): PartnerConfig {
    const d = domain.toLowerCase();
    const found = s.partners.find((p) => p.domain === d) ?? s.partners.find((p) => p.additionalDomains.includes(d));
    if (found === undefined) throw new AdminError(404, "not-found", `no partner entry covers ${domain}`);
    return found;
  }

  /** Read, decide, write with compare-and-set; retried (bounded) when another writer got there first. */
  private async write<R extends object>(
    plan: (s: StoreSnapshot) => Promise<
      | { change: StoreChange; audit: AuditRecord; result: R; events: (readonly ["partner" | "settings", string])[]; skip?: undefined }
      | { skip: true; result: R }
    >,
  ): Promise<R & { revision: number }> {
    for (let attempt = 1; ; attempt++) {
      const s = await this.o.store.snapshot();
      const p = await plan(s);
      if (p.skip === true) return { ...p.result, revision: s.revision };
      try {
        const revision = await this.o.store.apply(s.revision, p.change, p.audit);
        this.o.log.info({ actor: p.audit.actor, action: p.audit.action, target: p.audit.target, revision }, "admin: partner store changed");
        for (const [kind, key] of p.events) this.o.changed(kind, key, revision);
        return { ...p.result, revision };
      } catch (err) {
        if (!(err instanceof RevisionConflict) || attempt >= MAX_ATTEMPTS) {
          if (err instanceof RevisionConflict) throw new AdminError(409, "conflict", "the partner store kept changing; try again");
          throw err;
        }
      }
    }
  }
}
