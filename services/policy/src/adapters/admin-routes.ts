/**
 * Admin API for internal users' federation settings (a first slice of issue 4's admin API):
 * every route needs `Authorization: Bearer <token>`; errors are JSON `{ error, reason }`.
 *
 *   GET    /v1/users/:user                    → { user, xmppAccess, allowed }
 *   PUT    /v1/users/:user/xmpp-access         { "allowed": true | false | null }
 *   PUT    /v1/users/:user/allowed/:contact    allow an XMPP contact (Public unverified partners)
 *   DELETE /v1/users/:user/allowed/:contact
 */
import { timingSafeEqual, createHash } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { Jid, JidError } from "@passerelle/xmpp";
import type { Logger } from "@passerelle/telemetry";
import type { UserStore } from "./user-store.ts";

export interface AdminOptions {
  /** The bearer token; undefined disables the admin API (every request answered 503). */
  token: string | undefined;
  localDomains: ReadonlySet<string>;
  log: Logger;
  /** The store and the change notifier, once the service is connected. */
  ready: Promise<{ store: UserStore; changed: (kind: "allowlist" | "user", key: string) => void }>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function digest(s: string): Buffer {
  return createHash("sha256").update(s).digest();
}

export function registerAdminRoutes(app: FastifyInstance, options: AdminOptions): void {
  const expected = options.token === undefined ? undefined : digest(options.token);

  const authenticate = (request: FastifyRequest) => {
    if (expected === undefined) throw new HttpError(503, "admin-disabled", "the admin API is disabled: set PASSERELLE_ADMIN_TOKEN");
    const header = request.headers.authorization ?? "";
    const match = /^Bearer (.+)$/.exec(header);
    // Compared as digests in constant time, so the token's length leaks nothing either.
    if (match === null || !timingSafeEqual(digest(match[1] ?? ""), expected)) {
      throw new HttpError(401, "unauthorized", "a valid bearer token is required");
    }
  };

  const internalUser = (raw: string): string => {
    let jid: Jid;
    try {
      jid = Jid.parse(raw);
    } catch (err) {
      throw new HttpError(400, "bad-user", `not a JID: ${(err as Error).message}`);
    }
    if (jid.local === undefined || jid.resource !== undefined) throw new HttpError(400, "bad-user", "an internal user is a bare JID user@domain");
    if (!options.localDomains.has(jid.domain)) throw new HttpError(400, "bad-user", `${jid.domain} is not one of our domains`);
    return jid.toString();
  };

  const contactJid = (raw: string): string => {
    try {
      const jid = Jid.parse(raw);
      if (jid.local === undefined || jid.resource !== undefined) throw new JidError("a contact is a bare JID user@domain");
      return jid.toString();
    } catch (err) {
      throw new HttpError(400, "bad-contact", `not a contact JID: ${(err as Error).message}`);
    }
  };

  let deps: Awaited<AdminOptions["ready"]> | undefined;
  void options.ready.then((d) => (deps = d));
  const store = () => {
    if (deps === undefined) throw new HttpError(503, "starting", "the policy service is still connecting to Redis and NATS");
    return deps.store;
  };
  const changed = (kind: "allowlist" | "user", key: string) => deps?.changed(kind, key);

  const handle =
    <P>(work: (params: P, request: FastifyRequest, reply: FastifyReply) => Promise<unknown>) =>
    async (request: FastifyRequest, reply: FastifyReply) => {
      try {
        authenticate(request);
        return await work(request.params as P, request, reply);
      } catch (err) {
        if (err instanceof HttpError) {
          options.log.info({ status: err.status, url: request.url, reason: err.message }, "admin request refused");
          return reply.code(err.status).send({ error: err.code, reason: err.message });
        }
        options.log.error({ err, url: request.url }, "admin request failed");
        return reply.code(500).send({ error: "internal", reason: "the request failed; see the policy service's log" });
      }
    };

  type UserParams = { user: string };
  type ContactParams = { user: string; contact: string };

  app.get(
    "/v1/users/:user",
    handle<UserParams>(async ({ user }) => {
      const u = internalUser(user);
      return { user: u, xmppAccess: await store().hasXmppAccess(u), allowed: await store().allowed(u) };
    }),
  );

  app.put(
    "/v1/users/:user/xmpp-access",
    handle<UserParams>(async ({ user }, request) => {
      const u = internalUser(user);
      const body = request.body as { allowed?: unknown } | undefined;
      const allowed = body?.allowed;
      if (allowed !== true && allowed !== false && allowed !== null) {
        throw new HttpError(400, "bad-body", 'expected { "allowed": true | false | null }');
      }
      await store().setXmppAccess(u, allowed);
      options.log.info({ user: u, xmppAccess: allowed }, "admin: XMPP access changed");
      changed("user", u);
      return { user: u, xmppAccess: await store().hasXmppAccess(u) };
    }),
  );

  app.put(
    "/v1/users/:user/allowed/:contact",
    handle<ContactParams>(async ({ user, contact }, _request, reply) => {
      const u = internalUser(user);
      const c = contactJid(contact);
      const added = await store().allow(u, c);
      options.log.info({ user: u, contact: c }, "admin: contact allowed");
      changed("allowlist", u);
      return reply.code(added ? 201 : 200).send({ user: u, allowed: c });
    }),
  );

  app.delete(
    "/v1/users/:user/allowed/:contact",
    handle<ContactParams>(async ({ user, contact }, _request, reply) => {
      const u = internalUser(user);
      const c = contactJid(contact);
      if (!(await store().disallow(u, c))) throw new HttpError(404, "not-found", `${c} is not allowed by ${u}`);
      options.log.info({ user: u, contact: c }, "admin: contact disallowed");
      changed("allowlist", u);
      return reply.code(204).send();
    }),
  );
}
