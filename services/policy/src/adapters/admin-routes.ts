/**
 * Admin API for internal users' federation settings (authentication and errors: admin-http.ts).
 * Each change is written with its audit entry in one transaction and announced on config.changed.
 *
 *   GET    /v1/users/:user                    → { user, xmppAccess, allowed }
 *   PUT    /v1/users/:user/xmpp-access         { "allowed": true | false | null }
 *   PUT    /v1/users/:user/allowed/:contact    allow an XMPP contact (Public unverified partners)
 *   DELETE /v1/users/:user/allowed/:contact
 */
import type { FastifyInstance } from "fastify";
import { Jid, JidError } from "@passerelle/xmpp";
import type { Logger } from "@passerelle/telemetry";
import type { AdminHttp } from "./admin-http.ts";
import { AdminError } from "./partner-admin.ts";
import type { UserStore } from "./user-store.ts";

export interface UserRoutesOptions {
  localDomains: ReadonlySet<string>;
  log: Logger;
  http: AdminHttp;
  /** The store and the change notifier, once the service is connected (503 before). */
  deps(): { store: UserStore; changed: (kind: "allowlist" | "user", key: string) => void };
}

const SMALL_BODY = 4096;

export function registerUserRoutes(app: FastifyInstance, options: UserRoutesOptions): void {
  const { http } = options;
  const internalUser = (raw: string): string => {
    let jid: Jid;
    try {
      jid = Jid.parse(raw);
    } catch (err) {
      throw new AdminError(400, "bad-user", `not a JID: ${(err as Error).message}`);
    }
    if (jid.local === undefined || jid.resource !== undefined) throw new AdminError(400, "bad-user", "an internal user is a bare JID user@domain");
    if (!options.localDomains.has(jid.domain)) throw new AdminError(400, "bad-user", `${jid.domain} is not one of our domains`);
    return jid.toString();
  };

  const contactJid = (raw: string): string => {
    try {
      const jid = Jid.parse(raw);
      if (jid.local === undefined || jid.resource !== undefined) throw new JidError("a contact is a bare JID user@domain");
      return jid.toString();
    } catch (err) {
      throw new AdminError(400, "bad-contact", `not a contact JID: ${(err as Error).message}`);
    }
  };

  type UserParams = { user: string };
  type ContactParams = { user: string; contact: string };

  app.get(
    "/v1/users/:user",
    http.handle<UserParams>(async (request) => {
      const u = internalUser(request.params.user);
      const { store } = options.deps();
      return { user: u, xmppAccess: await store.hasXmppAccess(u), allowed: await store.allowed(u) };
    }),
  );

  app.put(
    "/v1/users/:user/xmpp-access",
    { bodyLimit: SMALL_BODY },
    http.handle<UserParams>(async (request) => {
      const u = internalUser(request.params.user);
      const body = request.body as { allowed?: unknown } | undefined;
      const allowed = body?.allowed;
      if (allowed !== true && allowed !== false && allowed !== null) {
        throw new AdminError(400, "bad-body", 'expected { "allowed": true | false | null }');
      }
      const { store, changed } = options.deps();
      await store.setXmppAccess(u, allowed, { actor: http.actorOf(request) });
      options.log.info({ user: u, xmppAccess: allowed, actor: http.actorOf(request) }, "admin: XMPP access changed");
      changed("user", u);
      return { user: u, xmppAccess: await store.hasXmppAccess(u) };
    }),
  );

  app.put(
    "/v1/users/:user/allowed/:contact",
    { bodyLimit: SMALL_BODY },
    http.handle<ContactParams>(async (request, reply) => {
      const u = internalUser(request.params.user);
      const c = contactJid(request.params.contact);
      const { store, changed } = options.deps();
      const added = await store.allow(u, c, { actor: http.actorOf(request) });
      options.log.info({ user: u, contact: c, actor: http.actorOf(request) }, "admin: contact allowed");
      if (added) changed("allowlist", u);
      return reply.code(added ? 201 : 200).send({ user: u, allowed: c });
    }),
  );

  app.delete(
    "/v1/users/:user/allowed/:contact",
    { bodyLimit: SMALL_BODY },
    http.handle<ContactParams>(async (request, reply) => {
      const u = internalUser(request.params.user);
      const c = contactJid(request.params.contact);
      const { store, changed } = options.deps();
      if (!(await store.disallow(u, c, { actor: http.actorOf(request) }))) throw new AdminError(404, "not-found", `${c} is not allowed by ${u}`);
      options.log.info({ user: u, contact: c, actor: http.actorOf(request) }, "admin: contact disallowed");
      changed("allowlist", u);
      return reply.code(204).send();
    }),
  );
}
