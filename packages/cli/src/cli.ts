/**
 * The dispatcher: `passerelle <group> [<command>] [options]`. Finds the command, parses its
 * options, runs it, and turns every refusal into one line on stderr and a non-zero exit code.
 */
import { createInterface } from "node:readline/promises";
import { describeOptions, parseArgs, type OptionSpecs } from "./args.ts";
import type { CliContext, Command, CommandGroup } from "./command.ts";
import { CliError, EXIT_USAGE } from "./errors.ts";
import * as registered from "./commands/index.ts";

export const groups: readonly CommandGroup[] = Object.values(registered as Record<string, CommandGroup>);

const helpOption: OptionSpecs = { help: { type: "boolean", short: "h", description: "show this help" } };

function mainUsage(all: readonly CommandGroup[]): string {
  const width = Math.max(...all.map((g) => g.name.length));
  return [
    "usage: passerelle <command> [options]",
    "",
    ...all.map((g) => `  ${g.name.padEnd(width)}  ${g.summary}`),
    "",
    "`passerelle <command> --help` tells more.",
  ].join("\n");
}

function groupUsage(group: CommandGroup): string {
  if (group.commands.length === 1 && group.commands[0]?.name === "") return commandUsage(group, group.commands[0]);
  const width = Math.max(...group.commands.map((c) => c.name.length));
  return [
    `usage: passerelle ${group.name} <command> [options]`,
    "",
    ...group.commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
  ].join("\n");
}

function commandUsage(group: CommandGroup, command: Command): string {
  const name = [group.name, command.name].filter((s) => s !== "").join(" ");
  return [
    `usage: passerelle ${name}${command.usage === undefined ? "" : ` ${command.usage}`} [options]`,
    "",
    command.summary,
    "",
    describeOptions({ ...command.options, ...helpOption }),
  ].join("\n");
}

/** Run the command line `argv` (without node and script). Resolves to the exit code. */
export async function run(argv: readonly string[], ctx: CliContext, all: readonly CommandGroup[] = groups): Promise<number> {
  const [groupName, ...rest] = argv;
  if (groupName === undefined || groupName === "--help" || groupName === "-h" || groupName === "help") {
    (groupName === undefined ? ctx.err : ctx.out)(mainUsage(all));
    return groupName === undefined ? EXIT_USAGE : 0;
  }
  const group = all.find((g) => g.name === groupName);
  if (group === undefined) {
    ctx.err(`passerelle: unknown command "${groupName}"\n\n${mainUsage(all)}`);
    return EXIT_USAGE;
  }
  let command = group.commands.find((c) => c.name !== "" && c.name === rest[0]);
  let commandArgs = rest.slice(1);
  if (command === undefined) {
    const own = group.commands.find((c) => c.name === "");
    if (own !== undefined && rest[0] !== "--help" && rest[0] !== "-h") {
      command = own;
      commandArgs = rest;
    } else if (rest[0] === undefined || rest[0] === "--help" || rest[0] === "-h") {
      if (own !== undefined) {
        ctx.out(commandUsage(group, own));
        return 0;
      }
      (rest[0] === undefined ? ctx.err : ctx.out)(groupUsage(group));
      return rest[0] === undefined ? EXIT_USAGE : 0;
    } else {
      ctx.err(`passerelle ${group.name}: unknown command "${rest[0]}"\n\n${groupUsage(group)}`);
      return EXIT_USAGE;
    }
  }
  const label = [group.name, command.name].filter((s) => s !== "").join(" ");
  try {
    const args = parseArgs(commandArgs, { ...command.options, ...helpOption });
    if (args.options.help === true) {
      ctx.out(commandUsage(group, command));
      return 0;
    }
    return await command.run(args, ctx);
  } catch (err) {
    if (err instanceof CliError) {
      ctx.err(`passerelle ${label}: ${err.message}`);
      return err.exitCode;
    }
    ctx.err(`passerelle ${label}: ${(err as Error).message ?? String(err)}`);
    return 1;
  }
}

/** The context of the real process. */
export function processContext(): CliContext {
  return {
    env: process.env,
    // `pnpm passerelle ...` runs at the repository root; relative paths are the caller's.
    cwd: process.env.npm_lifecycle_event === "passerelle" && process.env.INIT_CWD !== undefined ? process.env.INIT_CWD : process.cwd(),
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    interactive: process.stdin.isTTY === true && process.stderr.isTTY === true,
    async confirm(question) {
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      try {
        const answer = await rl.question(`${question} [y/N] `);
        return /^y(es)?$/i.test(answer.trim());
      } finally {
        rl.close();
      }
    },
    now: () => new Date(),
  };
}
