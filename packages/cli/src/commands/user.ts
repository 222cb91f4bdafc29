/** `passerelle user get|access|allow|disallow`: internal users' XMPP access and allow-lists. */
import { bool } from "../args.ts";
import { AdminClient, adminOptions, segment } from "../admin-client.ts";
import type { CliContext, Command, CommandGroup } from "../command.ts";
import { CliError } from "../errors.ts";
import { print } from "./partner.ts";

function positionals(args: { positionals: string[] }, names: readonly string[]): string[] {
  const values = args.positionals;
  if (values.length < names.length) throw new CliError(`missing ${names.slice(values.length).join(" and ")}`);
  if (values.length > names.length) throw new CliError(`unexpected argument "${values[names.length]}"`);
  return values.map((v) => v.trim());
}

interface UserView {
  user?: unknown;
  xmppAccess?: unknown;
  allowed?: unknown;
}

function describe(view: UserView, ctx: CliContext): void {
  ctx.out(`user:        ${String(view.user)}`);
  if (view.xmppAccess !== undefined) ctx.out(`xmpp access: ${view.xmppAccess === true ? "yes" : "no"}`);
  if (Array.isArray(view.allowed)) ctx.out(`allowed:     ${view.allowed.length === 0 ? "-" : view.allowed.map(String).join(", ")}`);
}

const get: Command = {
  name: "get",
  usage: "<user@domain>",
  summary: "show an internal user's XMPP access and the contacts they allowed",
  options: { ...adminOptions },
  async run(args, ctx) {
    const [user] = positionals(args, ["<user@domain>"]) as [string];
    const answer = await AdminClient.from(args, ctx).request("GET", `/v1/users/${segment(user, "user")}`);
    if (bool(args, "json") === true) return print(ctx, answer.body);
    describe(answer.body as UserView, ctx);
    return 0;
  },
};

/** on → true, off → false, default → null (the gateway's xmppAccessDefault applies). */
export function accessValue(word: string): boolean | null {
  switch (word.toLowerCase()) {
    case "on":
    case "yes":
    case "true":
      return true;
    case "off":
    case "no":
    case "false":
      return false;
    case "default":
      return null;
    default:
      throw new CliError(`expected on, off or default, got "${word}"`);
  }
}

const access: Command = {
  name: "access",
  usage: "<user@domain> on|off|default",
  summary: "let an internal user use XMPP federation, or not (default: the gateway's xmppAccessDefault)",
  options: { ...adminOptions },
  async run(args, ctx) {
    const [user, word] = positionals(args, ["<user@domain>", "on|off|default"]) as [string, string];
    const allowed = accessValue(word);
    const answer = await AdminClient.from(args, ctx).request("PUT", `/v1/users/${segment(user, "user")}/xmpp-access`, { json: { allowed } });
    if (bool(args, "json") === true) return print(ctx, answer.body);
    describe(answer.body as UserView, ctx);
    return 0;
  },
};

const allow: Command = {
  name: "allow",
  usage: "<user@domain> <contact@partner>",
  summary: "let a contact of a Public unverified partner reach this user",
  options: { ...adminOptions },
  async run(args, ctx) {
    const [user, contact] = positionals(args, ["<user@domain>", "<contact@partner>"]) as [string, string];
    const answer = await AdminClient.from(args, ctx).request("PUT", `/v1/users/${segment(user, "user")}/allowed/${segment(contact, "contact")}`);
    if (bool(args, "json") === true) return print(ctx, answer.body);
    ctx.out(`${contact} may now reach ${user}`);
    return 0;
  },
};

const disallow: Command = {
  name: "disallow",
  usage: "<user@domain> <contact@partner>",
  summary: "take a contact off the user's allow-list",
  options: { ...adminOptions },
  async run(args, ctx) {
    const [user, contact] = positionals(args, ["<user@domain>", "<contact@partner>"]) as [string, string];
    await AdminClient.from(args, ctx).request("DELETE", `/v1/users/${segment(user, "user")}/allowed/${segment(contact, "contact")}`);
    if (bool(args, "json") === true) return print(ctx, { user, disallowed: contact });
    ctx.out(`${contact} removed from ${user}'s allow-list`);
    return 0;
  },
};

export const user: CommandGroup = {
  name: "user",
  summary: "internal users' XMPP access and allow-lists (policy service admin API)",
  commands: [get, access, allow, disallow],
};
