// The partner store and the admin REST API against a real Redis (testkit), through fastify's inject.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { createScope, startRedis, type RedisServer } from "@passerelle/testkit";
import { validateConfig } from "@passerelle/config";
import { buildAdminApp, LOCAL_DOMAIN, OTHER_TOKEN, TOKEN, type TestAdminApp } from "./admin-app.testing.ts";
import { openApiDocument, openApiPath } from "./openapi.ts";
import { PARTNERS_KEY, REVISION_KEY, SEEDED_KEY } from "./partner-store.ts";

const scope = createScope("policy-partner-admin");
let redisServer: RedisServer;
let t: TestAdminApp;

const auth = { authorization: `Bearer ${TOKEN}` };
type Json = Record<string, unknown>;

async function call(method: "GET" | "POST" | "PATCH" | "DELETE" | "PUT", url: string, body?: unknown, headers: Record<string, string> = auth) {
  const response = await t.app.inject({ method, url, headers: { ...headers, ...(body === undefined || typeof body === "string" ? {} : { "content-type": "application/json" }) }, ...(body === undefined ? {} : { payload: body as string }) });
  let json: Json = {};
  try {
    json = response.json<Json>();
  } catch {
    // YAML or empty
  }
  return { status: response.statusCode, json, text: response.body, headers: response.headers };
}

const fabrikam = { domain: "fabrikam.test", type: "federated", additionalDomains: ["chat.fabrikam.test"], description: "Fabrikam" };

before(async () => {
  redisServer = await startRedis(scope);
});
after(async () => {
  await t?.close();
  await scope.close();
});
beforeEach(async () => {
  await t?.close();
  t = await buildAdminApp(redisServer.url);
  await t.redis.flushall();
});

describe("partner store", () => {
  it("seeds from the configuration file once; a later start does not overwrite admin changes", async () => {
    const config = validateConfig({
      domains: [{ xmpp: LOCAL_DOMAIN }],
      gateway: { edgeFqdn: "xmpp.contoso.test", dialback: { secret: "0123456789abcdef0123" } },
      sip: { proxy: { host: "127.0.0.1" } },
      partners: [{ domain: "fabrikam.test", type: "federated" }],
    });
    const first = await t.store.seed(config.partners, { xmppAccessDefault: true }, "file.yaml");
    assert.equal(first.seeded, true);
    assert.ok(await t.redis.get(SEEDED_KEY));
    await t.admin.update("admin", "fabrikam.test", { type: "public-unverified" });
    const second = await t.store.seed(config.partners, { xmppAccessDefault: false }, "file.yaml");
    assert.equal(second.seeded, false);
    const s = await t.store.snapshot();
    assert.equal(s.partners[0]?.type, "public-unverified");
    assert.equal(s.settings.xmppAccessDefault, true);
    assert.equal(s.revision, 2);
  });

  it("a write based on an old revision is refused (compare-and-set), nothing changes", async () => {
    await t.admin.create("admin", fabrikam);
    const s = await t.store.snapshot();
    await t.admin.update("admin", "fabrikam.test", { description: "newer" });
    await assert.rejects(t.store.apply(s.revision, { remove: ["fabrikam.test"], put: [] }, { actor: "x", action: "partner.remove", target: "fabrikam.test", before: null, after: null }), /changed meanwhile/);
    assert.equal(await t.redis.hexists(PARTNERS_KEY, "fabrikam.test"), 1);
    assert.equal(await t.redis.get(REVISION_KEY), "2");
  });
});

describe("admin REST API", () => {
  it("without credentials or with a wrong token: 401 JSON, nothing written", async () => {
    const attempts: Record<string, string>[] = [{}, { authorization: "Bearer wrong-token-0123456789" }, { authorization: `Basic ${TOKEN}` }];
    for (const headers of attempts) {
      const created = await call("POST", "/v1/partners", fabrikam, headers);
      assert.equal(created.status, 401);
      assert.equal(created.json.error, "unauthorized");
      assert.equal(typeof created.json.reason, "string");
      const listed = await call("GET", "/v1/partners", undefined, headers);
      assert.equal(listed.status, 401);
      assert.equal((await call("PUT", `/v1/users/juliet@${LOCAL_DOMAIN}/xmpp-access`, { allowed: false }, headers)).status, 401);
      assert.equal((await call("POST", "/v1/import", "partners: []\n", { ...headers, "content-type": "text/yaml" })).status, 401);
    }
    // A percent-encoded path reaches the same route: still authenticated.
    const encoded = await t.app.inject({ method: "POST", url: "/%76%31/partners", headers: { "content-type": "application/json" }, payload: JSON.stringify(fabrikam) });
    assert.equal(encoded.statusCode, 401);
    assert.deepEqual(await t.redis.keys("*"), []);
    assert.equal(t.events.length, 0);
    const metrics = await t.app.inject({ method: "GET", url: "/metrics" });
    assert.match(metrics.body, /passerelle_policy_admin_requests_total\{outcome="refused",code="401"[^}]*\} 13/);
  });

  it("no token configured: 503 admin-disabled", async () => {
    const disabled = await buildAdminApp(redisServer.url, []);
    try {
      const r = await disabled.app.inject({ method: "GET", url: "/v1/partners", headers: auth });
      assert.equal(r.statusCode, 503);
      assert.equal(r.json<Json>().error, "admin-disabled");
    } finally {
      await disabled.close();
    }
  });

  it("creates a partner with Lync's defaults, finds it by any of its domains, lists it", async () => {
    const created = await call("POST", "/v1/partners", fabrikam);
    assert.equal(created.status, 201, created.text);
    assert.deepEqual(created.json.partner, {
      domain: "fabrikam.test",
      description: "Fabrikam",
      additionalDomains: ["chat.fabrikam.test"],
      type: "federated",
      tls: "required",
      sasl: "optional",
      dialback: true,
      connectionLimit: 20,
      keepalive: true,
      proxyPort: 5269,
    });
    assert.deepEqual(created.json.warnings, []);
    assert.equal((await call("GET", "/v1/partners/chat.fabrikam.test")).json.domain, "fabrikam.test");
    const listed = await call("GET", "/v1/partners");
    assert.equal(listed.json.revision, 1);
    assert.equal((listed.json.partners as Json[]).length, 1);
    assert.deepEqual(t.events, [{ kind: "partner", key: "fabrikam.test", revision: 1 }]);
  });

  it("an invalid combination is refused with 400 naming the matrix row; nothing written", async () => {
    const r = await call("POST", "/v1/partners", { domain: "bad.test", type: "federated", tls: "not-supported", sasl: "required", dialback: false });
    assert.equal(r.status, 400);
    assert.equal(r.json.error, "invalid-combination");
    assert.equal(r.json.row, "TLS Not supported / SASL Required / dialback false");
    assert.match(String(r.json.reason), /TLS Not supported \/ SASL Required \/ dialback false/);
    assert.equal(await t.redis.hlen(PARTNERS_KEY), 0);
    // The same through PATCH of an existing entry.
    await call("POST", "/v1/partners", fabrikam);
    const p = await call("PATCH", "/v1/partners/fabrikam.test", { tls: "not-supported", dialback: false });
    assert.equal(p.status, 400);
    assert.equal(p.json.row, "TLS Not supported / SASL Optional / dialback false");
    assert.equal((await call("GET", "/v1/partners/fabrikam.test")).json.tls, "required");
  });

  it("warned rows are accepted and the warnings returned", async () => {
    const r = await call("POST", "/v1/partners", { domain: "plain.test", type: "public-verified", tls: "not-supported", sasl: "not-supported" });
    assert.equal(r.status, 201);
    const warnings = r.json.warnings as string[];
    assert.ok(warnings.some((w) => /unencrypted/.test(w)), warnings.join("|"));
    assert.ok(warnings.some((w) => /Public verified/.test(w)));
  });

  it("bad bodies and conflicts: clear JSON errors", async () => {
    await call("POST", "/v1/partners", fabrikam);
    const dup = await call("POST", "/v1/partners", { domain: "other.test", type: "federated", additionalDomains: ["chat.fabrikam.test"] });
    assert.equal(dup.status, 409);
    assert.equal(dup.json.error, "exists");
    assert.match(String(dup.json.reason), /chat\.fabrikam\.test already belongs to partner fabrikam\.test/);
    const own = await call("POST", "/v1/partners", { domain: LOCAL_DOMAIN, type: "federated" });
    assert.equal(own.status, 400);
    const badType = await call("POST", "/v1/partners", { domain: "x.test", type: "friendly" });
    assert.equal(badType.status, 400);
    assert.equal(badType.json.error, "bad-body");
    assert.match(String(badType.json.reason), /^type:/);
    const unknown = await call("POST", "/v1/partners", { domain: "x.test", type: "federated", colour: "red" });
    assert.equal(unknown.status, 400);
    const notJson = await t.app.inject({ method: "POST", url: "/v1/partners", headers: { ...auth, "content-type": "application/json" }, payload: "{nope" });
    assert.equal(notJson.statusCode, 400);
    assert.equal(notJson.json<Json>().error, "bad-body");
    const huge = await call("POST", "/v1/partners", { domain: "x.test", type: "federated", description: "x".repeat(100_000) });
    assert.equal(huge.status, 413);
    assert.equal(huge.json.error, "too-large");
    const rename = await call("PATCH", "/v1/partners/fabrikam.test", { domain: "new.test" });
    assert.equal(rename.status, 400);
    assert.equal((await call("GET", "/v1/partners/nowhere.test")).status, 404);
    assert.equal((await call("DELETE", "/v1/partners/nowhere.test")).status, 404);
    assert.equal((await call("GET", "/v1/nothing-here")).json.error, "not-found");
  });

  it("PATCH changes only the given fields; null removes the proxy; DELETE removes", async () => {
    await call("POST", "/v1/partners", { ...fabrikam, proxyFqdn: "gw.fabrikam.test" });
    const p = await call("PATCH", "/v1/partners/fabrikam.test", { type: "public-unverified", proxyFqdn: null });
    assert.equal(p.status, 200, p.text);
    const partner = p.json.partner as Json;
    assert.equal(partner.type, "public-unverified");
    assert.equal(partner.description, "Fabrikam");
    assert.equal("proxyFqdn" in partner, false);
    assert.equal((await call("DELETE", "/v1/partners/fabrikam.test")).status, 204);
    assert.equal((await call("GET", "/v1/partners/fabrikam.test")).status, 404);
    assert.deepEqual(
      t.events.map((e) => e.revision),
      [1, 2, 3],
    );
  });

  it("settings: read, change live, refuse bad values", async () => {
    assert.deepEqual((await call("GET", "/v1/settings")).json, { xmppAccessDefault: true });
    const r = await call("PATCH", "/v1/settings", { xmppAccessDefault: false });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { xmppAccessDefault: false });
    assert.equal((await call("PATCH", "/v1/settings", { xmppAccessDefault: "no" })).status, 400);
    assert.equal((await call("PATCH", "/v1/settings", { somethingElse: 1 })).status, 400);
    assert.deepEqual((await call("GET", "/v1/settings")).json, { xmppAccessDefault: false });
  });

  it("every change lands in the audit log: who, when, before, after — user routes too", async () => {
    await call("POST", "/v1/partners", fabrikam);
    await call("PATCH", "/v1/partners/fabrikam.test", { connectionLimit: 5 }, { authorization: `Bearer ${OTHER_TOKEN}` });
    await call("PUT", `/v1/users/juliet@${LOCAL_DOMAIN}/xmpp-access`, { allowed: false });
    await call("PUT", `/v1/users/juliet@${LOCAL_DOMAIN}/allowed/frank@public.test`);
    await call("DELETE", `/v1/users/juliet@${LOCAL_DOMAIN}/allowed/frank@public.test`);
    await call("PATCH", "/v1/settings", { xmppAccessDefault: false });
    await call("DELETE", "/v1/partners/fabrikam.test");
    const r = await call("GET", "/v1/audit?limit=10");
    const entries = r.json.entries as Json[];
    assert.deepEqual(
      entries.map((e) => e.action),
      ["partner.remove", "settings.update", "user.disallow", "user.allow", "user.xmpp-access", "partner.update", "partner.create"],
    );
    const update = entries[5] as Json;
    assert.equal(update.actor, "ops");
    assert.equal((update.before as Json).connectionLimit, 20);
    assert.equal((update.after as Json).connectionLimit, 5);
    assert.ok(!Number.isNaN(Date.parse(String(update.at))));
    assert.deepEqual((entries[4] as Json).after, { xmppAccess: false });
    assert.equal((entries[0] as Json).after, null);
    assert.equal((await call("GET", "/v1/audit?limit=1")).json.entries instanceof Array, true);
    assert.equal(((await call("GET", "/v1/audit?limit=1")).json.entries as Json[]).length, 1);
    assert.equal((await call("GET", "/v1/audit?limit=5000")).status, 400);
  });

  it("export → import round trip; dry run changes nothing; a bad import changes nothing and lists every problem", async () => {
    await call("POST", "/v1/partners", fabrikam);
    await call("POST", "/v1/partners", { domain: "public.test", type: "public-unverified", tls: "optional" });
    const exported = await call("GET", "/v1/export");
    assert.equal(exported.status, 200);
    assert.match(String(exported.headers["content-type"]), /^text\/yaml/);
    const doc = parseYaml(exported.text) as { partners: Json[]; settings: Json };
    assert.equal(doc.partners.length, 2);
    assert.deepEqual(doc.settings, { xmppAccessDefault: true });

    // Same document back: nothing changes.
    const same = await call("POST", "/v1/import", exported.text, { ...auth, "content-type": "text/yaml" });
    assert.deepEqual(same.json, { added: [], changed: [], removed: [], warnings: [] });

    // Edit: drop public.test, change fabrikam's description, add northwind.
    const editedDoc = { ...doc, partners: [{ ...doc.partners.find((p) => p.domain === "fabrikam.test"), description: "Fabrikam Inc" }, { domain: "northwind.test", type: "federated" }] };
    const withChange = stringifyYaml(editedDoc);
    const dry = await call("POST", "/v1/import?dryRun=true", withChange, { ...auth, "content-type": "text/yaml" });
    assert.equal(dry.status, 200, dry.text);
    assert.deepEqual(dry.json, { added: ["northwind.test"], changed: ["fabrikam.test"], removed: ["public.test"], warnings: [] });
    assert.equal((await call("GET", "/v1/partners/public.test")).status, 200);

    const bad = stringifyYaml({ ...editedDoc, partners: [...editedDoc.partners.slice(0, 1), { domain: "northwind.test", type: "federated", tls: "not-supported", dialback: false }, { domain: "chat.fabrikam.test", type: "nope" }] });
    const refused = await call("POST", "/v1/import", bad, { ...auth, "content-type": "text/yaml" });
    assert.equal(refused.status, 400, refused.text);
    assert.equal(refused.json.error, "invalid-import");
    const problems = refused.json.problems as string[];
    assert.ok(problems.some((p) => /northwind\.test.*TLS Not supported \/ SASL Optional \/ dialback false/.test(p)), problems.join("\n"));
    assert.ok(problems.some((p) => /chat\.fabrikam\.test.*type/.test(p)), problems.join("\n"));
    assert.equal((await call("GET", "/v1/partners/public.test")).status, 200);
    assert.equal((await call("GET", "/v1/partners/northwind.test")).status, 404);

    const applied = await call("POST", "/v1/import?dryRun=false", withChange, { ...auth, "content-type": "text/yaml" });
    assert.equal(applied.status, 200);
    assert.deepEqual((await call("GET", "/v1/partners")).json.partners instanceof Array, true);
    const after = ((await call("GET", "/v1/partners")).json.partners as Json[]).map((p) => `${String(p.domain)}:${String(p.description)}`);
    assert.deepEqual(after, ["fabrikam.test:Fabrikam Inc", "northwind.test:"]);
    assert.equal(((await call("GET", "/v1/audit?limit=1")).json.entries as Json[])[0]?.action, "import");
    assert.equal((await call("POST", "/v1/import", "partners: [", { ...auth, "content-type": "text/yaml" })).json.error, "bad-yaml");
    assert.equal((await call("POST", "/v1/import", "just text", { ...auth, "content-type": "text/yaml" })).json.error, "bad-import");
    assert.equal((await call("POST", "/v1/import", { partners: [] })).status, 415);
  });

  it("GET /openapi.json needs no token and documents every route, and only those", async () => {
    const r = await call("GET", "/openapi.json", undefined, {});
    assert.equal(r.status, 200);
    assert.equal(r.json.openapi, "3.1.0");
    // Both ways of authenticating are declared: bearer tokens and client certificates (admin TLS listener).
    const schemes = (r.json.components as { securitySchemes: Record<string, { type: string }> }).securitySchemes;
    assert.equal(schemes.bearer?.type, "http");
    assert.equal(schemes.clientCertificate?.type, "mutualTLS");
    const documented = new Set(Object.entries(openApiDocument.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)));
    const registered = new Set(t.http.routes.map((route) => `${route.method} ${openApiPath(route.url)}`));
    assert.ok(registered.size >= 15);
    for (const route of registered) assert.ok(documented.has(route), `${route} is not in the OpenAPI document`);
    // The runtime's own routes (/healthz, /readyz, /metrics) were registered before the admin's hook: ask fastify.
    for (const route of documented) {
      const [method = "", path = ""] = route.split(" ");
      assert.ok(t.app.hasRoute({ method: method as "GET", url: path.replace(/\{([^}]+)\}/g, ":$1") }), `${route} is documented but not served`);
    }
  });
});
