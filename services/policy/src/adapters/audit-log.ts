/**
 * The admin audit log: a capped Redis stream, one entry per change (who, when, what, before,
 * after), written in the same transaction as the change itself.
 *
 *   passerelle:policy:audit   STREAM, trimmed to about AUDIT_MAX_ENTRIES (MAXLEN ~)
 */
import type { ChainableCommander, Redis } from "ioredis";

export const AUDIT_KEY = "passerelle:policy:audit";
export const AUDIT_MAX_ENTRIES = 10_000;

export type AuditAction =
  | "partner.create"
  | "partner.update"
  | "partner.remove"
  | "settings.update"
  | "user.xmpp-access"
  | "user.allow"
  | "user.disallow"
  | "import";

export interface AuditRecord {
  actor: string;
  action: AuditAction;
  target: string;
  before: unknown;
  after: unknown;
}

export interface AuditEntry extends AuditRecord {
  id: string;
  /** ISO 8601. */
  at: string;
  /** The partner store's revision after the change (partner and settings changes). */
  revision?: number;
}

/** The stream fields of one record (values as strings), in order. */
export function auditFields(record: AuditRecord, at = new Date()): string[] {
  return ["at", at.toISOString(), "actor", record.actor, "action", record.action, "target", record.target, "before", JSON.stringify(record.before ?? null), "after", JSON.stringify(record.after ?? null)];
}

/** Add the XADD of `record` to a MULTI. */
export function appendAudit(multi: ChainableCommander, record: AuditRecord): ChainableCommander {
  return multi.xadd(AUDIT_KEY, "MAXLEN", "~", AUDIT_MAX_ENTRIES, "*", ...auditFields(record));
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** The newest `limit` entries, newest first. */
export async function readAudit(redis: Redis, limit: number): Promise<AuditEntry[]> {
  const rows = await redis.xrevrange(AUDIT_KEY, "+", "-", "COUNT", limit);
  return rows.map(([id, flat]) => {
    const f = new Map<string, string>();
    for (let i = 0; i + 1 < flat.length; i += 2) f.set(flat[i] ?? "", flat[i + 1] ?? "");
    const revision = f.get("revision");
    return {
      id,
      at: f.get("at") ?? "",
      actor: f.get("actor") ?? "",
      action: (f.get("action") ?? "") as AuditAction,
      target: f.get("target") ?? "",
      before: parseJson(f.get("before")),
      after: parseJson(f.get("after")),
      ...(revision === undefined ? {} : { revision: Number(revision) }),
    };
  });
}
