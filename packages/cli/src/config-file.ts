/** The gateway configuration the CLI reads: --config, else PASSERELLE_CONFIG, else ./passerelle.yaml. */
import { resolve } from "node:path";
import { ConfigError, loadConfigFile, type GatewayConfig } from "@passerelle/config";
import type { OptionSpec } from "./args.ts";
import type { CliContext } from "./command.ts";
import { CliError } from "./errors.ts";

export const configOption: OptionSpec = {
  type: "string",
  placeholder: "FILE",
  description: "the gateway configuration (default: $PASSERELLE_CONFIG, else ./passerelle.yaml)",
};

export function configPath(given: string | undefined, ctx: CliContext): string {
  return resolve(ctx.cwd, given ?? ctx.env.PASSERELLE_CONFIG ?? "passerelle.yaml");
}

export function loadConfig(given: string | undefined, ctx: CliContext): GatewayConfig {
  const path = configPath(given, ctx);
  try {
    return loadConfigFile(path);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message);
    throw err;
  }
}
