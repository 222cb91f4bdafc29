/**
 * One partner entry as the admin writes it (configuration file, admin API, import): validated
 * against the schema (Lync's defaults fill what is missing), the negotiation matrix (an invalid
 * row is refused, naming the row) and the other entries (a domain belongs to one partner, never
 * to us). Pure, shared by the configuration loader and the policy service's partner store.
 */
import { z } from "zod";
import { evaluateNegotiation } from "./negotiation.ts";
import { partnerSchema, type PartnerConfig } from "./schema.ts";
import type { Partner } from "./load.ts";

/** Gateway-wide settings the admin may change live (policy's store); the file's values seed them. */
export const liveSettingsSchema = z
  .object({
    /** Lync's EnableXmppAccess for users without their own setting. */
    xmppAccessDefault: z.boolean(),
  })
  .strict();
export type LiveSettings = z.output<typeof liveSettingsSchema>;

export type PartnerProblem =
  | { kind: "bad-body"; reason: string }
  | { kind: "invalid-combination"; reason: string; row: string }
  | { kind: "exists"; reason: string }
  | { kind: "own-domain"; reason: string };

export type PartnerCheck = { ok: true; partner: Partner; warnings: string[] } | { ok: false; problems: PartnerProblem[] };

/** The warnings an admin should see for an entry the matrix accepts. */
export function partnerWarnings(p: Partner): string[] {
  const warnings = p.negotiation.warnings.map((w) => `partner ${p.domain} (${p.negotiation.row}): ${w}`);
  if (p.type === "public-verified") {
    warnings.push(`partner ${p.domain}: Public verified lets its users reach internal users without their approval (not recommended)`);
  }
  return warnings;
}

/** The stored form: the entry without the derived negotiation verdict, fields in the schema's order. */
export function partnerEntry(p: PartnerConfig): PartnerConfig {
  return {
    domain: p.domain,
    description: p.description,
    additionalDomains: [...p.additionalDomains],
    type: p.type,
    tls: p.tls,
    sasl: p.sasl,
    dialback: p.dialback,
    connectionLimit: p.connectionLimit,
    keepalive: p.keepalive,
    ...(p.proxyFqdn === undefined ? {} : { proxyFqdn: p.proxyFqdn }),
    proxyPort: p.proxyPort,
  };
}

/**
 * Check one entry. `owners` maps every domain already taken to its partner's primary domain
 * (the entry's own domains, when replacing it, must be left out by the caller).
 */
export function checkPartner(input: unknown, context: { localDomains: ReadonlySet<string>; owners: ReadonlyMap<string, string> }): PartnerCheck {
  const parsed = partnerSchema.safeParse(input);
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.error.issues.map((issue) => ({ kind: "bad-body" as const, reason: `${issue.path.length > 0 ? issue.path.join(".") : "(entry)"}: ${issue.message}` })),
    };
  }
  const entry = partnerEntry(parsed.data);
  const problems: PartnerProblem[] = [];
  const negotiation = evaluateNegotiation(entry);
  if (!negotiation.valid) {
    problems.push({ kind: "invalid-combination", row: negotiation.row, reason: `invalid combination ${negotiation.row}: ${negotiation.reason ?? ""}` });
  }
  const seen = new Set<string>();
  for (const d of [entry.domain, ...entry.additionalDomains]) {
    if (seen.has(d)) problems.push({ kind: "bad-body", reason: `${d} is listed twice in the entry` });
    seen.add(d);
    if (context.localDomains.has(d)) problems.push({ kind: "own-domain", reason: `${d} is one of our own domains` });
    const owner = context.owners.get(d);
    if (owner !== undefined) problems.push({ kind: "exists", reason: `${d} already belongs to partner ${owner}` });
  }
  if (problems.length > 0) return { ok: false, problems };
  const partner: Partner = { ...entry, negotiation };
  return { ok: true, partner, warnings: partnerWarnings(partner) };
}

/** Domain → owning partner's primary domain, for a set of entries. */
export function domainOwners(entries: Iterable<PartnerConfig>): Map<string, string> {
  const owners = new Map<string, string>();
  for (const p of entries) for (const d of [p.domain, ...p.additionalDomains]) owners.set(d, p.domain);
  return owners;
}

/** Rebuild Partner objects from stored entries (a snapshot); entries that no longer validate are returned apart. */
export function partnersFromEntries(entries: readonly unknown[]): { partners: Partner[]; rejected: string[] } {
  const partners: Partner[] = [];
  const rejected: string[] = [];
  for (const raw of entries) {
    const parsed = partnerSchema.safeParse(raw);
    if (!parsed.success) {
      rejected.push(`${String((raw as { domain?: unknown } | null)?.domain ?? "?")}: ${parsed.error.issues[0]?.message ?? "invalid"}`);
      continue;
    }
    const negotiation = evaluateNegotiation(parsed.data);
    if (!negotiation.valid) {
      rejected.push(`${parsed.data.domain}: invalid combination ${negotiation.row}`);
      continue;
    }
    partners.push({ ...partnerEntry(parsed.data), negotiation });
  }
  return { partners, rejected };
}

/** How an open s2s stream was authenticated, to check it against a changed partner entry. */
export interface OpenStreamFacts {
  method: "sasl-external" | "dialback";
  tls: boolean;
}

/**
 * Whether an open stream with `domain` may stay open under the partner entry now in force
 * (undefined: yes); otherwise the text of the `policy-violation` stream error that closes it,
 * naming the change. The partner type is not checked here: policy applies it per stanza.
 */
export function streamNoLongerAllowed(domain: string, partner: Partner | undefined, facts: OpenStreamFacts): string | undefined {
  if (partner === undefined) return `${domain} is no longer a federated partner of this gateway (its entry was removed)`;
  const row = partner.negotiation.row;
  if (partner.tls === "required" && !facts.tls) return `the partner entry for ${partner.domain} now requires TLS (${row}); this stream is not encrypted`;
  if (facts.method === "sasl-external" && !partner.negotiation.methods.includes("sasl-over-tls")) {
    return `the partner entry for ${partner.domain} no longer allows SASL (${row})`;
  }
  if (facts.method === "dialback") {
    const allowed = partner.negotiation.methods.includes(facts.tls ? "dialback-over-tls" : "dialback-over-tcp");
    if (!allowed) return `the partner entry for ${partner.domain} no longer allows dialback${facts.tls ? " over TLS" : " without TLS"} (${row})`;
  }
  return undefined;
}
