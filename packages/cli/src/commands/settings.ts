/** `passerelle settings get|set`: the gateway-wide live settings (policy service admin API). */
import { bool } from "../args.ts";
import { AdminClient, adminOptions } from "../admin-client.ts";
import type { CliContext, Command, CommandGroup } from "../command.ts";
import { CliError } from "../errors.ts";
import { print } from "./partner.ts";

const MAX_SETTINGS = 50;

/** `key=value` pairs: true/false, numbers and null as JSON; anything else as a string. */
export function parseAssignments(pairs: readonly string[]): Record<string, unknown> {
  if (pairs.length === 0) throw new CliError("give at least one key=value (e.g. xmppAccessDefault=false)");
  if (pairs.length > MAX_SETTINGS) throw new CliError(`at most ${MAX_SETTINGS} settings at once`);
  const out: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new CliError(`"${pair}": expected key=value`);
    const key = pair.slice(0, eq).trim();
    if (!/^[A-Za-z][A-Za-z0-9_.-]{0,99}$/.test(key)) throw new CliError(`"${key}": not a setting name`);
    if (key in out) throw new CliError(`${key} given twice`);
    const raw = pair.slice(eq + 1).trim();
    out[key] = /^(true|false|null|-?\d+(\.\d+)?)$/.test(raw) ? (JSON.parse(raw) as unknown) : raw;
  }
  return out;
}

function describe(settings: unknown, ctx: CliContext): void {
  if (typeof settings !== "object" || settings === null) throw new CliError("the admin API answered without settings");
  const entries = Object.entries(settings as Record<string, unknown>);
  const width = Math.max(0, ...entries.map(([k]) => k.length));
  for (const [k, v] of entries) ctx.out(`${k.padEnd(width)}  ${typeof v === "string" ? v : JSON.stringify(v)}`);
}

const get: Command = {
  name: "get",
  usage: "[key]",
  summary: "show the live settings (or one of them)",
  options: { ...adminOptions },
  async run(args, ctx) {
    const [key, extra] = args.positionals;
    if (extra !== undefined) throw new CliError(`unexpected argument "${extra}"`);
    const answer = await AdminClient.from(args, ctx).request("GET", "/v1/settings");
    let value = answer.body;
    if (key !== undefined) {
      const all = answer.body as Record<string, unknown>;
      if (typeof all !== "object" || all === null || !(key in all)) throw new CliError(`no setting named ${key} (known: ${Object.keys(all ?? {}).join(", ")})`);
      value = { [key]: all[key] };
    }
    if (bool(args, "json") === true) return print(ctx, value);
    describe(value, ctx);
    return 0;
  },
};

const set: Command = {
  name: "set",
  usage: "<key=value>...",
  summary: "change live settings, applied by every replica within a second",
  options: { ...adminOptions },
  async run(args, ctx) {
    const patch = parseAssignments(args.positionals);
    const answer = await AdminClient.from(args, ctx).request("PATCH", "/v1/settings", { json: patch });
    if (bool(args, "json") === true) return print(ctx, answer.body);
    describe(answer.body, ctx);
    return 0;
  },
};

export const settings: CommandGroup = {
  name: "settings",
  summary: "read and change gateway-wide live settings (policy service admin API)",
  commands: [get, set],
};
