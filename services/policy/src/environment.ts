/** Settings policy takes from the environment (secrets never live in the configuration file). */
import { readFileSync } from "node:fs";

/** PASSERELLE_ADMIN_TOKEN, or the content of the file named by PASSERELLE_ADMIN_TOKEN_FILE. */
export function readAdminToken(env: NodeJS.ProcessEnv): string | undefined {
  if (env.PASSERELLE_ADMIN_TOKEN_FILE !== undefined) return readFileSync(env.PASSERELLE_ADMIN_TOKEN_FILE, "utf8").trim();
  const token = env.PASSERELLE_ADMIN_TOKEN?.trim();
  return token === undefined || token === "" ? undefined : token;
}
