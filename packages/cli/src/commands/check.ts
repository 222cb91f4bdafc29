/** `passerelle check [partner-domain]`: one line per step of a federation, with a hint for each failure. */
import { PartnerDirectory, partnersFromEntries } from "@passerelle/config";
import { AdminClient, adminOptions } from "../admin-client.ts";
import { bool, num, str, type ParsedArgs } from "../args.ts";
import { formatStep, runCheck, type CheckOptions, type StepResult } from "../check/run-check.ts";
import type { CliContext, Command, CommandGroup } from "../command.ts";
import { configOption, loadConfig } from "../config-file.ts";
import { CliError } from "../errors.ts";

const DOMAIN = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;

const run: Command = {
  name: "",
  summary:
    "check our DNS records and certificate and, given a partner domain, everything between us and it (exit 1 if a step fails); the partner entry comes from the admin API when a token is given, else from the configuration file",
  usage: "[partner-domain]",
  options: {
    config: configOption,
    ...adminOptions,
    "dns-server": { type: "string", placeholder: "IP[:PORT]", description: "the DNS server to ask (default: dns.server from the configuration, else the system's)" },
    from: { type: "string", placeholder: "DOMAIN", description: "our domain that talks to the partner (default: the first local domain)" },
    timeout: { type: "number", placeholder: "SECONDS", description: "bound of each network step (default 10)" },
    "warn-days": { type: "number", placeholder: "DAYS", description: "warn when our certificate expires within this many days (default 30)" },
    json: { type: "boolean", description: "print one JSON object per step" },
  },
  async run(args: ParsedArgs, ctx: CliContext): Promise<number> {
    if (args.positionals.length > 1) throw new CliError(`unexpected argument "${args.positionals[1]}"`);
    const partner = args.positionals[0];
    if (partner !== undefined && !DOMAIN.test(partner)) throw new CliError(`"${partner}" is not a domain name`);
    const timeout = num(args, "timeout") ?? 10;
    if (timeout < 1 || timeout > 120) throw new CliError("--timeout: between 1 and 120 seconds");
    const warnDays = num(args, "warn-days") ?? 30;
    if (warnDays < 0 || warnDays > 3650) throw new CliError("--warn-days: between 0 and 3650");
    const config = loadConfig(str(args, "config"), ctx);
    const from = str(args, "from");
    if (from !== undefined && !config.domains.some((d) => d.xmpp === from.toLowerCase())) throw new CliError(`--from: ${from} is not one of our domains`);
    const dnsServer = str(args, "dns-server");
    const json = bool(args, "json") === true;
    const partnerLookup = partner === undefined ? undefined : await fromAdminApi(args, ctx, partner);
    const results: StepResult[] = [];
    for await (const result of runCheck({
      config,
      ...(partner === undefined ? {} : { partner }),
      ...(partnerLookup === undefined ? {} : { partnerLookup }),
      ...(from === undefined ? {} : { from: from.toLowerCase() }),
      ...(dnsServer === undefined ? {} : { dnsServer }),
      timeoutMs: timeout * 1000,
      expiryWarningDays: warnDays,
      now: () => ctx.now(),
    })) {
      results.push(result);
      if (json) ctx.out(JSON.stringify(result));
      else for (const line of formatStep(result)) ctx.out(line);
    }
    const failed = results.filter((r) => r.status === "fail").length;
    const warned = results.filter((r) => r.status === "warn").length;
    if (!json) ctx.out(`${failed === 0 ? "OK" : "FAILED"}: ${results.length} steps, ${failed} failed, ${warned} with warnings`);
    return failed === 0 ? 0 : 1;
  },
};

/**
 * The partner entry in force, from the policy service's admin API, when a token is at hand
 * (--token-file or PASSERELLE_ADMIN_TOKEN) or a client certificate (--cert); undefined: judge against the configuration file.
 */
async function fromAdminApi(args: ParsedArgs, ctx: CliContext, domain: string): Promise<CheckOptions["partnerLookup"]> {
  const certificate = str(args, "cert") ?? ctx.env.PASSERELLE_ADMIN_CERT ?? "";
  if (str(args, "token-file") === undefined && (ctx.env.PASSERELLE_ADMIN_TOKEN ?? "").trim() === "" && certificate.trim() === "") return undefined;
  let client: AdminClient;
  try {
    client = AdminClient.from(args, ctx);
  } catch (err) {
    return { error: (err as Error).message };
  }
  try {
    const answer = await client.request("GET", "/v1/partners");
    const listed = (answer.body as { partners?: unknown } | null)?.partners;
    if (!Array.isArray(listed)) return { error: "the admin API's partner list is not a list" };
    const { partners } = partnersFromEntries(listed.slice(0, 100_000));
    return { entry: new PartnerDirectory(partners).find(domain), from: `the admin API (${client.baseUrl})` };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

export const check: CommandGroup = { name: "check", summary: "walk a federation step by step and say what is wrong", commands: [run] };
