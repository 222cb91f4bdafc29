/** Bearer-token authentication shared by the admin REST and gRPC APIs. */
import { createHash, timingSafeEqual } from "node:crypto";
import type { AdminToken, AdminTokenList } from "../environment.ts";
import { AdminError } from "./partner-admin.ts";

function digest(s: string): Buffer {
  return createHash("sha256").update(s).digest();
}

export class AdminAuth {
  private readonly source: AdminTokenList;
  private digested: readonly AdminToken[] | undefined;
  private digests: { name: string; digest: Buffer }[] = [];

  /** A fixed list, or a source whose list may change (tokens reloaded without a restart). */
  constructor(tokens: readonly AdminToken[] | AdminTokenList) {
    this.source = isTokenList(tokens) ? tokens : { current: () => tokens };
  }

  private get expected(): { name: string; digest: Buffer }[] {
    const tokens = this.source.current();
    if (tokens !== this.digested) {
      this.digests = tokens.map((t) => ({ name: t.name, digest: digest(t.token) }));
      this.digested = tokens;
    }
    return this.digests;
  }

  /** The actor named by an `Authorization` header value; throws AdminError 503 / 401. */
  actorFor(header: string | undefined): string {
    if (this.expected.length === 0) {
      throw new AdminError(503, "admin-disabled", "the admin API is disabled: set PASSERELLE_ADMIN_TOKEN, PASSERELLE_ADMIN_TOKEN_FILE or PASSERELLE_ADMIN_TOKENS_FILE");
    }
    const match = header === undefined ? null : /^Bearer ([\x21-\x7e]{1,4096})$/.exec(header);
    if (match === null) {
      throw new AdminError(401, "unauthorized", header === undefined ? "an Authorization: Bearer <token> header is required" : "the Authorization header is not a bearer token");
    }
    const presented = digest(match[1] ?? "");
    // Compared as digests in constant time, every token compared: nothing leaks by timing.
    let actor: string | undefined;
    for (const t of this.expected) if (timingSafeEqual(presented, t.digest) && actor === undefined) actor = t.name;
    if (actor === undefined) throw new AdminError(401, "unauthorized", "the bearer token is not valid");
    return actor;
  }
}

function isTokenList(tokens: readonly AdminToken[] | AdminTokenList): tokens is AdminTokenList {
  return !Array.isArray(tokens);
}
