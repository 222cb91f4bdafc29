/** Settings policy takes from the environment (secrets never live in the configuration file). */
import { readFileSync } from "node:fs";
import { fileStamp } from "@passerelle/config";

export interface AdminToken {
  /** The audit actor. */
  name: string;
  token: string;
}

/**
 * The admin API's bearer tokens: PASSERELLE_ADMIN_TOKEN (actor "admin"), the content of the file
 * named by PASSERELLE_ADMIN_TOKEN_FILE (actor "admin"), and the lines `name:token` of the file named
 * by PASSERELLE_ADMIN_TOKENS_FILE (blank lines and `#` comments ignored). Throws on a malformed
 * line or a token shorter than 16 characters, naming where; an empty list disables the admin API.
 */
export function readAdminTokens(env: NodeJS.ProcessEnv): AdminToken[] {
  const tokens: AdminToken[] = [];
  const add = (name: string, token: string, where: string) => {
    if (token.length < 16) throw new Error(`${where}: an admin token must be at least 16 characters`);
    if (!/^[A-Za-z0-9._@-]{1,64}$/.test(name)) throw new Error(`${where}: the name must be 1-64 letters, digits or . _ @ -`);
    tokens.push({ name, token });
  };
  if (env.PASSERELLE_ADMIN_TOKEN_FILE !== undefined && env.PASSERELLE_ADMIN_TOKEN_FILE !== "") {
    add("admin", readFileSync(env.PASSERELLE_ADMIN_TOKEN_FILE, "utf8").trim(), "PASSERELLE_ADMIN_TOKEN_FILE");
  } else {
    const token = env.PASSERELLE_ADMIN_TOKEN?.trim();
    if (token !== undefined && token !== "") add("admin", token, "PASSERELLE_ADMIN_TOKEN");
  }
  const file = env.PASSERELLE_ADMIN_TOKENS_FILE;
  if (file !== undefined && file !== "") {
    readFileSync(file, "utf8")
      .split("\n")
      .forEach((raw, i) => {
        const line = raw.trim();
        if (line === "" || line.startsWith("#")) return;
        const colon = line.indexOf(":");
        if (colon <= 0) throw new Error(`PASSERELLE_ADMIN_TOKENS_FILE line ${i + 1}: expected name:token`);
        add(line.slice(0, colon).trim(), line.slice(colon + 1).trim(), `PASSERELLE_ADMIN_TOKENS_FILE line ${i + 1}`);
      });
  }
  return tokens;
}

/** What an authenticator needs: the tokens in force now (a new array after each reload). */
export interface AdminTokenList {
  current(): readonly AdminToken[];
}

/**
 * The admin tokens, kept current without a restart: `reloadIfChanged()` (called periodically)
 * re-reads the token files when their size or modification time changed — a rotated Kubernetes
 * Secret is one such change. A file that no longer reads or parses keeps the tokens in force.
 */
export class AdminTokenSource implements AdminTokenList {
  private tokens: readonly AdminToken[];
  private stamp: string;

  /** Reads the tokens once; throws as readAdminTokens does (a service refuses to start on it). */
  constructor(private readonly env: NodeJS.ProcessEnv) {
    this.stamp = this.fileStamp();
    this.tokens = readAdminTokens(env);
  }

  current(): readonly AdminToken[] {
    return this.tokens;
  }

  /** "unchanged", "reloaded" (with the new count), or "failed" (with the reason; old tokens kept). */
  reloadIfChanged(): { outcome: "unchanged" } | { outcome: "reloaded"; count: number } | { outcome: "failed"; reason: string } {
    const stamp = this.fileStamp();
    if (stamp === this.stamp) return { outcome: "unchanged" };
    try {
      const next = readAdminTokens(this.env);
      this.tokens = next;
      this.stamp = stamp;
      return { outcome: "reloaded", count: next.length };
    } catch (err) {
      // Remember the stamp: one report per change of the file, not one per poll.
      this.stamp = stamp;
      return { outcome: "failed", reason: (err as Error).message };
    }
  }

  private fileStamp(): string {
    return fileStamp([this.env.PASSERELLE_ADMIN_TOKEN_FILE, this.env.PASSERELLE_ADMIN_TOKENS_FILE]);
  }
}
