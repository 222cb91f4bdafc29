/**
 * SRV answers for XMPP servers, as pure functions: validation of untrusted records, RFC 2782
 * ordering, and the resolution plan of RFC 6120 §3.2 with XEP-0368 direct TLS.
 */
import { domainToASCII } from "node:url";
import type { ResolvedTarget } from "@passerelle/contracts";

/** An SRV record as a DNS client returns it (node:dns's SrvRecord shape). */
export interface SrvRecord {
  name: string;
  port: number;
  priority: number;
  weight: number;
}

/** More records than this in one answer are ignored (the lowest priorities are kept). */
export const MAX_SRV_RECORDS = 32;
/** The port of RFC 6120 §3.2.2's fallback to the domain's own address records. */
export const DEFAULT_S2S_PORT = 5269;

/** A host name in the form we keep (A-labels, lower case, no trailing dot), or undefined if it is not one. */
export function normalizeHostName(name: string): string | undefined {
  if (typeof name !== "string") return undefined;
  const trimmed = name.endsWith(".") ? name.slice(0, -1) : name;
  if (trimmed.length === 0 || trimmed.length > 253) return undefined;
  const ascii = domainToASCII(trimmed).toLowerCase();
  if (ascii === "" || ascii.length > 253) return undefined;
  // RFC 1123 §2.1 host names: LDH labels of 1–63 characters, not starting or ending with '-'.
  const labels = ascii.split(".");
  const ok = labels.every((label) => /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(label));
  return ok ? ascii : undefined;
}

const isUint16 = (n: unknown): n is number => typeof n === "number" && Number.isInteger(n) && n >= 0 && n <= 65535;

export interface SrvValidation {
  /** Valid records, at most MAX_SRV_RECORDS, lowest priority first. */
  records: SrvRecord[];
  /** RFC 2782: a single record with target "." means the service is decidedly not available. */
  noService: boolean;
  /** Why records were dropped, for the logs. */
  rejected: string[];
}

/** Check every record of an untrusted SRV answer; drop those that are not sound. */
export function validateSrvRecords(answer: readonly SrvRecord[], max = MAX_SRV_RECORDS): SrvValidation {
  const rejected: string[] = [];
  // RFC 2782 "Target": "." alone means no service; node:dns reports it as an empty name.
  if (answer.length === 1 && (answer[0]?.name === "." || answer[0]?.name === "")) {
    return { records: [], noService: true, rejected };
  }
  const records: SrvRecord[] = [];
  for (const record of answer.slice(0, max * 4)) {
    const name = normalizeHostName(record.name);
    if (name === undefined) rejected.push(`invalid target name ${JSON.stringify(String(record.name).slice(0, 80))}`);
    else if (!isUint16(record.port) || record.port === 0) rejected.push(`invalid port ${String(record.port)} for ${name}`);
    else if (!isUint16(record.priority) || !isUint16(record.weight)) rejected.push(`invalid priority/weight for ${name}`);
    else records.push({ name, port: record.port, priority: record.priority, weight: record.weight });
  }
  if (answer.length > max * 4) rejected.push(`${answer.length - max * 4} records beyond the first ${max * 4} ignored`);
  records.sort((a, b) => a.priority - b.priority);
  if (records.length > max) {
    rejected.push(`${records.length - max} records beyond ${max} ignored`);
    records.length = max;
  }
  return { records, noService: false, rejected };
}

/**
 * RFC 2782 "Usage rules": lowest priority first; within one priority, a weighted random order
 * (records of weight 0 first in the running sum, so they are picked rarely but still picked).
 * `random` returns a number in [0, 1).
 */
export function orderSrvRecords(records: readonly SrvRecord[], random: () => number = Math.random): SrvRecord[] {
  const byPriority = new Map<number, SrvRecord[]>();
  for (const record of records) {
    const group = byPriority.get(record.priority) ?? [];
    group.push(record);
    byPriority.set(record.priority, group);
  }
  const ordered: SrvRecord[] = [];
  for (const priority of [...byPriority.keys()].sort((a, b) => a - b)) {
    const remaining = [...(byPriority.get(priority) ?? [])].sort((a, b) => (a.weight === 0 ? 0 : 1) - (b.weight === 0 ? 0 : 1));
    while (remaining.length > 0) {
      const total = remaining.reduce((sum, r) => sum + r.weight, 0);
      const pick = Math.min(total, Math.floor(random() * (total + 1)));
      let running = 0;
      let index = remaining.findIndex((r) => (running += r.weight) >= pick);
      if (index < 0) index = remaining.length - 1;
      const [chosen] = remaining.splice(index, 1);
      if (chosen !== undefined) ordered.push(chosen);
    }
  }
  return ordered;
}

/** What the DNS said about one SRV name. */
export type SrvLookup = { kind: "records"; records: SrvRecord[] } | { kind: "none" } | { kind: "no-service" } | { kind: "error"; error: string };

export interface ResolutionInput {
  /** `_xmpps-server._tcp.<domain>` (XEP-0368). */
  directTls: SrvLookup;
  /** `_xmpp-server._tcp.<domain>` (RFC 6120 §3.2.1). */
  startTls: SrvLookup;
  /** Whether the domain itself has A/AAAA records (asked only when needed). */
  hasAddress?: () => Promise<boolean | { error: string }>;
}

export interface ResolutionPlan {
  targets: ResolvedTarget[];
  /** Where the targets came from: SRV records, or RFC 6120 §3.2.2's address fallback. */
  source: "srv" | "fallback" | "none";
  error?: string;
}

const toTarget = (directTls: boolean) => (r: SrvRecord): ResolvedTarget => ({ host: r.name, port: r.port, directTls, priority: r.priority, weight: r.weight });

/**
 * XEP-0368 §3 then RFC 6120 §3.2: direct-TLS targets first, then STARTTLS targets, each list in
 * RFC 2782 order; with neither, RFC 6120 §3.2.2's fallback to the domain itself on 5269 — unless
 * `_xmpp-server` said "." (no service).
 */
export async function planResolution(domain: string, input: ResolutionInput, random: () => number = Math.random): Promise<ResolutionPlan> {
  const targets: ResolvedTarget[] = [];
  const errors: string[] = [];
  for (const [lookup, directTls] of [
    [input.directTls, true],
    [input.startTls, false],
  ] as const) {
    if (lookup.kind === "records") targets.push(...orderSrvRecords(lookup.records, random).map(toTarget(directTls)));
    if (lookup.kind === "error") errors.push(lookup.error);
  }
  if (targets.length > 0) return { targets, source: "srv" };
  // A lookup that failed (timeout, SERVFAIL) is not "no records": do not fall back, report it.
  if (errors.length > 0) return { targets, source: "none", error: errors.join("; ") };
  if (input.startTls.kind === "no-service") return { targets, source: "none", error: `${domain} has no XMPP server-to-server service (SRV target ".")` };
  // RFC 6120 §3.2.2: no SRV records: the domain's own A/AAAA, port 5269.
  const address = input.hasAddress === undefined ? true : await input.hasAddress();
  if (address === true) return { targets: [{ host: domain, port: DEFAULT_S2S_PORT, directTls: false, priority: 0, weight: 0 }], source: "fallback" };
  if (address === false) return { targets, source: "none" };
  return { targets, source: "none", error: address.error };
}
