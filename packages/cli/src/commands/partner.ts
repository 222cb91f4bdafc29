/** `passerelle partner new|set|get|list|remove|export|import`: a client of the policy service's admin API. */
import { resolve } from "node:path";
import { bool, list, num, str, type OptionSpecs, type ParsedArgs } from "../args.ts";
import { AdminClient, adminOptions, segment } from "../admin-client.ts";
import type { CliContext, Command, CommandGroup } from "../command.ts";
import { CliError } from "../errors.ts";
import { readBounded, writeNew } from "../files.ts";

const TYPES = ["federated", "public-verified", "public-unverified"] as const;
const NEGOTIATION = ["required", "optional", "not-supported"] as const;

/** The partner object of the API (packages/config partnerSchema). */
export interface PartnerView {
  domain: string;
  description?: string;
  additionalDomains?: string[];
  type?: string;
  tls?: string;
  sasl?: string;
  dialback?: boolean;
  connectionLimit?: number;
  keepalive?: boolean;
  proxyFqdn?: string;
  proxyPort?: number;
}

/** One flag per partner field. */
export const partnerFieldOptions: OptionSpecs = {
  type: { type: "string", placeholder: TYPES.join("|"), description: "the partner's type (Lync: Federated, Public verified, Public unverified)" },
  tls: { type: "string", placeholder: NEGOTIATION.join("|"), description: "TLS negotiation (default required)" },
  sasl: { type: "string", placeholder: NEGOTIATION.join("|"), description: "SASL EXTERNAL negotiation (default optional)" },
  dialback: { type: "boolean", negatable: true, description: "allow server dialback (default yes)" },
  description: { type: "string", placeholder: "TEXT", description: "free text, at most 1024 characters" },
  "additional-domain": { type: "string", multiple: true, placeholder: "DOMAIN", description: "another domain of this partner (replaces the list on set)" },
  "clear-additional-domains": { type: "boolean", description: "set: remove every additional domain" },
  "connection-limit": { type: "number", description: "connections at once with this partner (default 20)" },
  keepalive: { type: "boolean", negatable: true, description: "send keepalives on idle connections (default yes)" },
  "proxy-fqdn": { type: "string", placeholder: "FQDN", description: "connect to this host instead of resolving the partner's SRV records" },
  "no-proxy-fqdn": { type: "boolean", description: "set: resolve SRV records again (remove the proxy FQDN)" },
  "proxy-port": { type: "number", description: "port of the proxy FQDN (default 5269)" },
};

function oneOf<T extends string>(args: ParsedArgs, name: string, allowed: readonly T[]): T | undefined {
  const v = str(args, name);
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) throw new CliError(`--${name}: expected one of ${allowed.join(", ")}, got "${v}"`);
  return v as T;
}

/** The JSON body for POST (new) or PATCH (set) from the flags; null clears a field on PATCH. */
export function partnerBody(args: ParsedArgs, mode: "new" | "set"): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  const put = (key: string, value: unknown): void => {
    if (value !== undefined) body[key] = value;
  };
  put("type", oneOf(args, "type", TYPES));
  put("tls", oneOf(args, "tls", NEGOTIATION));
  put("sasl", oneOf(args, "sasl", NEGOTIATION));
  put("dialback", bool(args, "dialback"));
  put("description", str(args, "description"));
  const additional = list(args, "additional-domain").map((d) => d.trim().toLowerCase());
  const clear = bool(args, "clear-additional-domains") === true;
  if (clear && additional.length > 0) throw new CliError("--clear-additional-domains and --additional-domain together: choose one");
  if (clear) {
    if (mode === "new") throw new CliError("--clear-additional-domains is for set");
    body.additionalDomains = [];
  } else if (additional.length > 0) {
    body.additionalDomains = additional;
  }
  const limit = num(args, "connection-limit");
  if (limit !== undefined && (limit < 1 || limit > 10000)) throw new CliError(`--connection-limit: expected 1 to 10000, got ${limit}`);
  put("connectionLimit", limit);
  put("keepalive", bool(args, "keepalive"));
  const proxy = str(args, "proxy-fqdn");
  const noProxy = bool(args, "no-proxy-fqdn") === true;
  if (proxy !== undefined && noProxy) throw new CliError("--proxy-fqdn and --no-proxy-fqdn together: choose one");
  if (noProxy) {
    if (mode === "new") throw new CliError("--no-proxy-fqdn is for set");
    body.proxyFqdn = null;
  }
  put("proxyFqdn", proxy?.trim().toLowerCase());
  const port = num(args, "proxy-port");
  if (port !== undefined && (port < 1 || port > 65535)) throw new CliError(`--proxy-port: expected 1 to 65535, got ${port}`);
  put("proxyPort", port);
  if (mode === "new" && body.type === undefined) throw new CliError(`--type is required (${TYPES.join(", ")})`);
  return body;
}

function yesNo(v: boolean | undefined): string {
  return v === undefined ? "-" : v ? "yes" : "no";
}

export function describePartner(p: PartnerView): string[] {
  return [
    `domain:             ${p.domain}`,
    `type:               ${p.type ?? "-"}`,
    `description:        ${p.description === undefined || p.description === "" ? "-" : p.description}`,
    `additional domains: ${p.additionalDomains === undefined || p.additionalDomains.length === 0 ? "-" : p.additionalDomains.join(", ")}`,
    `tls:                ${p.tls ?? "-"}`,
    `sasl:               ${p.sasl ?? "-"}`,
    `dialback:           ${yesNo(p.dialback)}`,
    `connection limit:   ${p.connectionLimit ?? "-"}`,
    `keepalive:          ${yesNo(p.keepalive)}`,
    `proxy:              ${p.proxyFqdn === undefined ? "- (SRV records)" : `${p.proxyFqdn}:${p.proxyPort ?? 5269}`}`,
  ];
}

/** A plain table: the header row, then one row per item, columns padded. */
export function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join("  "));
}

function asPartner(value: unknown): PartnerView {
  if (typeof value !== "object" || value === null || typeof (value as PartnerView).domain !== "string") throw new CliError("the admin API answered without a partner");
  return value as PartnerView;
}

function printWarnings(body: unknown, ctx: CliContext): void {
  const warnings = (body as { warnings?: unknown }).warnings;
  if (Array.isArray(warnings)) for (const w of warnings) ctx.err(`warning: ${String(w)}`);
}

function oneDomain(args: ParsedArgs): string {
  const [domain, extra] = args.positionals;
  if (domain === undefined) throw new CliError("the partner's domain is required");
  if (extra !== undefined) throw new CliError(`unexpected argument "${extra}"`);
  return domain.trim().toLowerCase();
}

function noPositionals(args: ParsedArgs): void {
  if (args.positionals.length > 0) throw new CliError(`unexpected argument "${args.positionals[0]}"`);
}

/** Ask on a terminal; without one, --yes is needed. */
export async function confirmed(args: ParsedArgs, ctx: CliContext, question: string): Promise<boolean> {
  if (bool(args, "yes") === true) return true;
  if (!ctx.interactive) throw new CliError("not going ahead without confirmation: no terminal to ask on; pass --yes");
  return ctx.confirm(question);
}

const yesOption: OptionSpecs = { yes: { type: "boolean", short: "y", description: "do not ask for confirmation" } };

const create: Command = {
  name: "new",
  usage: "<domain>",
  summary: "create a partner (Lync's defaults fill what is not given)",
  options: { ...partnerFieldOptions, ...adminOptions },
  async run(args, ctx) {
    const domain = oneDomain(args);
    const body = { domain, ...partnerBody(args, "new") };
    const client = AdminClient.from(args, ctx);
    const answer = await client.request("POST", "/v1/partners", { json: body });
    printWarnings(answer.body, ctx);
    if (bool(args, "json") === true) return print(ctx, answer.body);
    const partner = asPartner((answer.body as { partner?: unknown }).partner);
    ctx.out(`partner ${partner.domain} created`);
    for (const line of describePartner(partner)) ctx.out(`  ${line}`);
    return 0;
  },
};

const set: Command = {
  name: "set",
  usage: "<domain>",
  summary: "change fields of a partner (the others keep their value)",
  options: { ...partnerFieldOptions, ...adminOptions },
  async run(args, ctx) {
    const domain = oneDomain(args);
    const body = partnerBody(args, "set");
    if (Object.keys(body).length === 0) throw new CliError("nothing to change: give at least one field (see --help)");
    const client = AdminClient.from(args, ctx);
    const answer = await client.request("PATCH", `/v1/partners/${segment(domain, "domain")}`, { json: body });
    printWarnings(answer.body, ctx);
    if (bool(args, "json") === true) return print(ctx, answer.body);
    const partner = asPartner((answer.body as { partner?: unknown }).partner);
    ctx.out(`partner ${partner.domain} changed`);
    for (const line of describePartner(partner)) ctx.out(`  ${line}`);
    return 0;
  },
};

const get: Command = {
  name: "get",
  usage: "<domain>",
  summary: "show a partner (by its domain or one of its additional domains)",
  options: { ...adminOptions },
  async run(args, ctx) {
    const domain = oneDomain(args);
    const answer = await AdminClient.from(args, ctx).request("GET", `/v1/partners/${segment(domain, "domain")}`);
    if (bool(args, "json") === true) return print(ctx, answer.body);
    for (const line of describePartner(asPartner(answer.body))) ctx.out(line);
    return 0;
  },
};

const listCommand: Command = {
  name: "list",
  summary: "list the partners",
  options: { ...adminOptions },
  async run(args, ctx) {
    noPositionals(args);
    const answer = await AdminClient.from(args, ctx).request("GET", "/v1/partners");
    if (bool(args, "json") === true) return print(ctx, answer.body);
    const partners = (answer.body as { partners?: unknown }).partners;
    if (!Array.isArray(partners)) throw new CliError("the admin API answered without a partner list");
    if (partners.length === 0) {
      ctx.out("no partners");
      return 0;
    }
    const rows = [["DOMAIN", "TYPE", "TLS", "SASL", "DIALBACK", "LIMIT", "KEEPALIVE", "PROXY", "ADDITIONAL"]];
    for (const raw of partners) {
      const p = asPartner(raw);
      rows.push([
        p.domain,
        p.type ?? "-",
        p.tls ?? "-",
        p.sasl ?? "-",
        yesNo(p.dialback),
        String(p.connectionLimit ?? "-"),
        yesNo(p.keepalive),
        p.proxyFqdn === undefined ? "-" : `${p.proxyFqdn}:${p.proxyPort ?? 5269}`,
        (p.additionalDomains ?? []).join(",") || "-",
      ]);
    }
    for (const line of table(rows)) ctx.out(line);
    return 0;
  },
};

const remove: Command = {
  name: "remove",
  usage: "<domain>",
  summary: "remove a partner (its open connections are closed)",
  options: { ...yesOption, ...adminOptions },
  async run(args, ctx) {
    const domain = oneDomain(args);
    const client = AdminClient.from(args, ctx);
    if (!(await confirmed(args, ctx, `Remove partner ${domain} and close its connections?`))) {
      ctx.err("nothing removed");
      return 1;
    }
    await client.request("DELETE", `/v1/partners/${segment(domain, "domain")}`);
    if (bool(args, "json") === true) return print(ctx, { removed: domain });
    ctx.out(`partner ${domain} removed`);
    return 0;
  },
};

const exportCommand: Command = {
  name: "export",
  summary: "write every partner and the live settings as YAML (the configuration file's shape)",
  options: {
    out: { type: "string", placeholder: "FILE", description: "write to this file instead of the standard output" },
    force: { type: "boolean", description: "replace the --out file if it exists" },
    ...adminOptions,
  },
  async run(args, ctx) {
    noPositionals(args);
    const answer = await AdminClient.from(args, ctx).request("GET", "/v1/export");
    const yaml = typeof answer.body === "string" ? answer.body : answer.text;
    const out = str(args, "out");
    if (out === undefined) {
      ctx.out(yaml.replace(/\n$/, ""));
    } else {
      const path = resolve(ctx.cwd, out);
      writeNew(path, yaml, 0o644, bool(args, "force") === true);
      ctx.err(`wrote ${path}`);
    }
    return 0;
  },
};

interface ImportSummary {
  added?: unknown;
  changed?: unknown;
  removed?: unknown;
  warnings?: unknown;
}

function describeImport(s: ImportSummary, dryRun: boolean, ctx: CliContext): void {
  const names = (v: unknown): string => (Array.isArray(v) && v.length > 0 ? v.map(String).join(", ") : "none");
  ctx.out(dryRun ? "import (dry run, nothing changed):" : "imported:");
  ctx.out(`  added:   ${names(s.added)}`);
  ctx.out(`  changed: ${names(s.changed)}`);
  ctx.out(`  removed: ${names(s.removed)}`);
  if (Array.isArray(s.warnings)) for (const w of s.warnings) ctx.err(`warning: ${String(w)}`);
}

const importCommand: Command = {
  name: "import",
  usage: "<file.yaml>",
  summary: "replace every partner (and the settings given) with a YAML file, atomically; partners not in it are removed",
  options: {
    "dry-run": { type: "boolean", description: "show what would change; change nothing" },
    ...yesOption,
    ...adminOptions,
  },
  async run(args, ctx) {
    const [file, extra] = args.positionals;
    if (file === undefined) throw new CliError("the YAML file to import is required");
    if (extra !== undefined) throw new CliError(`unexpected argument "${extra}"`);
    const yaml = readBounded(resolve(ctx.cwd, file), "import file", 4 * 1024 * 1024);
    const client = AdminClient.from(args, ctx);
    const json = bool(args, "json") === true;
    const preview = await client.request("POST", "/v1/import", { yaml, query: { dryRun: "true" } });
    if (bool(args, "dry-run") === true) {
      if (json) return print(ctx, preview.body);
      describeImport(preview.body as ImportSummary, true, ctx);
      return 0;
    }
    if (bool(args, "yes") !== true) {
      describeImport(preview.body as ImportSummary, true, ctx);
      if (!(await confirmed(args, ctx, "Apply this import?"))) {
        ctx.err("nothing imported");
        return 1;
      }
    }
    const answer = await client.request("POST", "/v1/import", { yaml, query: { dryRun: "false" } });
    if (json) return print(ctx, answer.body);
    describeImport(answer.body as ImportSummary, false, ctx);
    return 0;
  },
};

export function print(ctx: CliContext, value: unknown): number {
  ctx.out(JSON.stringify(value, null, 2));
  return 0;
}

export const partner: CommandGroup = {
  name: "partner",
  summary: "administer federation partners (policy service admin API)",
  commands: [create, set, get, listCommand, remove, exportCommand, importCommand],
};
