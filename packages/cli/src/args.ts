/**
 * Command-line options: `--name value`, `--name=value`, boolean `--flag` and `--no-flag` for
 * negatable ones, repeatable options, `--` ends options. Unknown options, missing values and
 * malformed numbers are refused with a message naming the option.
 */
import { CliError } from "./errors.ts";

export type OptionType = "string" | "boolean" | "number";

export interface OptionSpec {
  type: OptionType;
  /** May be given several times (values collected in order). */
  multiple?: boolean;
  /** A boolean that also accepts `--no-<name>`. */
  negatable?: boolean;
  /** One-letter alias, e.g. "y" for `-y`. */
  short?: string;
  /** Shown by `--help`; the value's placeholder for string/number options. */
  description: string;
  placeholder?: string;
}

export type OptionSpecs = Record<string, OptionSpec>;

export type OptionValue = string | number | boolean | string[] | number[];

export interface ParsedArgs {
  /** Values by option name; absent when not given. */
  options: Record<string, OptionValue | undefined>;
  positionals: string[];
}

/** Longest accepted single argument (a path, a domain list, a description). */
const MAX_ARG_LENGTH = 8192;
const MAX_ARGS = 1000;

function toNumber(name: string, raw: string): number {
  if (!/^-?\d+$/.test(raw.trim())) throw new CliError(`--${name}: expected a whole number, got "${raw}"`);
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new CliError(`--${name}: number out of range: ${raw}`);
  return n;
}

export function parseArgs(argv: readonly string[], specs: OptionSpecs): ParsedArgs {
  const options: Record<string, OptionValue | undefined> = {};
  const positionals: string[] = [];
  const shorts = new Map<string, string>();
  for (const [name, spec] of Object.entries(specs)) if (spec.short !== undefined) shorts.set(spec.short, name);

  const put = (name: string, spec: OptionSpec, value: string | boolean): void => {
    let v: string | number | boolean = value;
    if (spec.type === "number" && typeof value === "string") v = toNumber(name, value);
    if (spec.multiple === true) {
      const list = (options[name] as (string | number)[] | undefined) ?? [];
      list.push(v as string | number);
      options[name] = list as string[] | number[];
    } else {
      if (options[name] !== undefined && spec.type !== "boolean") throw new CliError(`--${name} given twice`);
      options[name] = v;
    }
  };

  if (argv.length > MAX_ARGS) throw new CliError(`${argv.length} arguments, at most ${MAX_ARGS} accepted`);
  argv.forEach((arg, i) => {
    if (arg.length > MAX_ARG_LENGTH) throw new CliError(`argument ${i + 1} is longer than ${MAX_ARG_LENGTH} characters`);
  });
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      let name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      const inline = eq === -1 ? undefined : arg.slice(eq + 1);
      const spec = specs[name];
      if (spec === undefined && name.startsWith("no-")) {
        const positive = name.slice(3);
        const negatable = specs[positive];
        if (negatable?.type === "boolean" && negatable.negatable === true) {
          if (inline !== undefined) throw new CliError(`--${name} takes no value`);
          options[positive] = false;
          continue;
        }
      }
      if (spec === undefined) throw new CliError(`unknown option --${name}`);
      if (spec.type === "boolean") {
        if (inline !== undefined) {
          if (inline !== "true" && inline !== "false") throw new CliError(`--${name}: expected true or false, got "${inline}"`);
          put(name, spec, inline === "true");
        } else {
          put(name, spec, true);
        }
        continue;
      }
      let value = inline;
      if (value === undefined) {
        const next = argv[i + 1];
        if (next === undefined || (next.startsWith("--") && next.length > 2)) throw new CliError(`--${name} needs a value`);
        value = next;
        i++;
      }
      name = name.trim();
      put(name, spec, value);
      continue;
    }
    if (arg.startsWith("-") && arg.length === 2 && arg !== "-") {
      const name = shorts.get(arg.slice(1));
      if (name === undefined) throw new CliError(`unknown option ${arg}`);
      const spec = specs[name] as OptionSpec;
      if (spec.type === "boolean") {
        put(name, spec, true);
      } else {
        const next = argv[i + 1];
        if (next === undefined) throw new CliError(`${arg} needs a value`);
        put(name, spec, next);
        i++;
      }
      continue;
    }
    positionals.push(arg);
  }
  return { options, positionals };
}

/** Typed readers for parsed options. */
export function str(args: ParsedArgs, name: string): string | undefined {
  const v = args.options[name];
  return typeof v === "string" ? v : undefined;
}

export function num(args: ParsedArgs, name: string): number | undefined {
  const v = args.options[name];
  return typeof v === "number" ? v : undefined;
}

export function bool(args: ParsedArgs, name: string): boolean | undefined {
  const v = args.options[name];
  return typeof v === "boolean" ? v : undefined;
}

export function list(args: ParsedArgs, name: string): string[] {
  const v = args.options[name];
  return Array.isArray(v) ? v.map(String) : [];
}

/** Help text for a set of options, one line each. */
export function describeOptions(specs: OptionSpecs): string {
  const rows = Object.entries(specs).map(([name, spec]) => {
    let left = `--${name}`;
    if (spec.type === "boolean" && spec.negatable === true) left = `--[no-]${name}`;
    if (spec.type !== "boolean") left += ` ${spec.placeholder ?? (spec.type === "number" ? "N" : "VALUE")}`;
    if (spec.short !== undefined) left = `-${spec.short}, ${left}`;
    if (spec.multiple === true) left += " (repeatable)";
    return [left, spec.description] as const;
  });
  const width = Math.min(40, Math.max(0, ...rows.map(([l]) => l.length)));
  return rows.map(([l, d]) => `  ${l.padEnd(width)}  ${d}`).join("\n");
}
