/**
 * What a command group looks like. Each group lives in src/commands/<group>.ts and is
 * registered with one line in src/commands/index.ts.
 */
import type { OptionSpecs, ParsedArgs } from "./args.ts";

/** Where a command reads and writes: the real process, or a test's buffers. */
export interface CliContext {
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Normal output (results). */
  out(line: string): void;
  /** Warnings, errors, prompts. */
  err(line: string): void;
  /** Whether a person can answer a question (stdin and stderr are terminals). */
  interactive: boolean;
  /** Ask a yes/no question; resolves false on anything but y/yes. Only called when interactive. */
  confirm(question: string): Promise<boolean>;
  /** The current time (tests move it). */
  now(): Date;
}

export interface Command {
  /** The sub-command's name ("request" in `passerelle cert request`); "" for a group's own command. */
  name: string;
  summary: string;
  /** Positional arguments, for the usage line, e.g. "<domain>". */
  usage?: string;
  options: OptionSpecs;
  run(args: ParsedArgs, ctx: CliContext): Promise<number>;
}

export interface CommandGroup {
  name: string;
  summary: string;
  /** Its sub-commands; a group with one command named "" runs it directly (`passerelle check [domain]`). */
  commands: Command[];
}
