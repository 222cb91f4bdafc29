/**
 * Reading the configuration: YAML from a file (path from `--config` or PASSERELLE_CONFIG),
 * validated against the schema and the negotiation matrix, with every error reported at once.
 */
import { readFileSync } from "node:fs";
import { parse as parseYaml, YAMLParseError } from "yaml";
import type { ZodError } from "zod";
import { configSchema, type ParsedConfig, type PartnerConfig } from "./schema.ts";
import { evaluateNegotiation, type NegotiationVerdict } from "./negotiation.ts";
import { partnerWarnings } from "./partner-entry.ts";

export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`${source}: ${problems.length} problem(s) in the configuration:\n  - ${problems.join("\n  - ")}`);
  }
}

export interface LocalDomain {
  xmpp: string;
  sip: string;
}

export interface Partner extends PartnerConfig {
  negotiation: NegotiationVerdict;
}

export interface GatewayConfig extends Omit<ParsedConfig, "domains" | "partners"> {
  /** Where the configuration came from (a path, or "inline"). */
  source: string;
  domains: LocalDomain[];
  partners: Partner[];
  /** The dialback secret, read from the file when `secretFile` is used. */
  dialbackSecret: string;
  /** Warnings the admin should see at start (e.g. a warned negotiation row). */
  warnings: string[];
}

function zodProblems(error: ZodError): string[] {
  return error.issues.map((issue) => {
    const where = issue.path.length > 0 ? issue.path.join(".") : "(top)";
    return `${where}: ${issue.message}`;
  });
}

/** Validate an already-parsed document. Throws ConfigError listing every problem. */
export function validateConfig(document: unknown, source = "inline"): GatewayConfig {
  const parsed = configSchema.safeParse(document ?? {});
  if (!parsed.success) throw new ConfigError(source, zodProblems(parsed.error));
  const raw = parsed.data;
  const problems: string[] = [];
  const warnings: string[] = [];

  const domains: LocalDomain[] = raw.domains.map((d) => ({ xmpp: d.xmpp, sip: d.sip ?? d.xmpp }));
  const local = new Set<string>();
  for (const d of domains) {
    if (local.has(d.xmpp)) problems.push(`domains: ${d.xmpp} is listed twice`);
    local.add(d.xmpp);
  }

  const owner = new Map<string, string>();
  const partners: Partner[] = raw.partners.map((p, index) => {
    const negotiation = evaluateNegotiation(p);
    if (!negotiation.valid) {
      problems.push(`partners[${index}] (${p.domain}): invalid combination ${negotiation.row}: ${negotiation.reason}`);
    }
    for (const d of [p.domain, ...p.additionalDomains]) {
      if (local.has(d)) problems.push(`partners[${index}] (${p.domain}): ${d} is one of our own domains`);
      const previous = owner.get(d);
      if (previous !== undefined) {
        problems.push(`partners[${index}] (${p.domain}): ${d} already belongs to partner ${previous}`);
      } else {
        owner.set(d, p.domain);
      }
    }
    const partner: Partner = { ...p, negotiation };
    if (negotiation.valid) warnings.push(...partnerWarnings(partner));
    return partner;
  });

  let dialbackSecret = raw.gateway.dialback.secret ?? "";
  if (raw.gateway.dialback.secretFile !== undefined) {
    try {
      dialbackSecret = readFileSync(raw.gateway.dialback.secretFile, "utf8").trim();
      if (dialbackSecret.length < 16) problems.push("gateway.dialback.secretFile: the secret must be at least 16 characters");
    } catch (err) {
      problems.push(`gateway.dialback.secretFile: cannot read ${raw.gateway.dialback.secretFile}: ${(err as Error).message}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(source, problems);
  return { ...raw, source, domains, partners, dialbackSecret, warnings };
}

/** Read and validate a YAML configuration file. */
export function loadConfigFile(path: string): GatewayConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(path, [`cannot read the file: ${(err as Error).message}`]);
  }
  let document: unknown;
  try {
    document = parseYaml(text, { maxAliasCount: 100 });
  } catch (err) {
    const message = err instanceof YAMLParseError ? err.message : String(err);
    throw new ConfigError(path, [`not valid YAML: ${message}`]);
  }
  return validateConfig(document, path);
}

/** The configuration path: `--config PATH` or `--config=PATH` on the command line, else PASSERELLE_CONFIG. */
export function configPathFrom(argv: readonly string[], env: NodeJS.ProcessEnv): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--config") return argv[i + 1];
    if (arg?.startsWith("--config=")) return arg.slice("--config=".length);
  }
  return env.PASSERELLE_CONFIG;
}
