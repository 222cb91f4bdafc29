/** Bearer-token authentication shared by the admin REST and gRPC APIs. */
import { createHash, timingSafeEqual } from "node:crypto";
import type { AdminToken } from "../environment.ts";
import { AdminError } from "./partner-admin.ts";

function digest(s: string): Buffer {
  return createHash("sha256").update(s).digest();
}

export class AdminAuth {
  private readonly expected: { name: string; digest: Buffer }[];

  constructor(tokens: readonly AdminToken[]) {
    this.expected = tokens.map((t) => ({ name: t.name, digest: digest(t.token) }));
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
