// The admin gRPC API for real over loopback (@grpc/grpc-js client ↔ server), on a real Redis.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { createScope, startRedis } from "@passerelle/testkit";
import { buildAdminApp, OTHER_TOKEN, TOKEN, type TestAdminApp } from "./admin-app.testing.ts";
import { adminClientConstructor, startAdminGrpc, type AdminGrpcServer } from "./grpc-server.ts";

const scope = createScope("policy-admin-grpc");
let t: TestAdminApp;
let server: AdminGrpcServer;
let client: grpc.Client;

type Json = Record<string, unknown>;
type Unary = (request: object, metadata: grpc.Metadata, callback: (err: grpc.ServiceError | null, response: Json) => void) => void;

function bearer(token: string | null): grpc.Metadata {
  const m = new grpc.Metadata();
  if (token !== null) m.set("authorization", `Bearer ${token}`);
  return m;
}

function invoke(method: string, request: object, token: string | null = TOKEN): Promise<Json> {
  const fn = (client as unknown as Record<string, Unary>)[method];
  assert.ok(fn, `${method} exists on the client`);
  return new Promise((resolve, reject) => fn.call(client, request, bearer(token), (err, response) => (err === null ? resolve(response) : reject(err))));
}

before(async () => {
  const redis = await startRedis(scope);
  t = await buildAdminApp(redis.url);
  await t.redis.flushall();
  server = await startAdminGrpc({ host: "127.0.0.1", port: 0, tokens: [{ name: "admin", token: TOKEN }, { name: "ops", token: OTHER_TOKEN }], admin: t.admin, log: t.log });
  const Client = adminClientConstructor();
  client = new Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
});
after(async () => {
  client?.close();
  await server?.close();
  await t?.close();
  await scope.close();
});

describe("admin gRPC API (passerelle.admin.v1.PartnerAdmin)", () => {
  it("refuses a call without or with a wrong bearer token (UNAUTHENTICATED) and writes nothing", async () => {
    await assert.rejects(invoke("CreatePartner", { domain: "fabrikam.test", type: "federated" }, null), (err: grpc.ServiceError) => err.code === grpc.status.UNAUTHENTICATED);
    await assert.rejects(invoke("ListPartners", {}, "wrong-token-0123456789"), (err: grpc.ServiceError) => err.code === grpc.status.UNAUTHENTICATED);
    assert.deepEqual(await t.redis.keys("*"), []);
  });

  it("creates with Lync's defaults, gets, updates only the fields set, lists, removes — audited with the actor", async () => {
    const created = await invoke("CreatePartner", { domain: "fabrikam.test", type: "federated", additionalDomains: ["chat.fabrikam.test"] });
    const partner = created.partner as Json;
    assert.equal(partner.tls, "required");
    assert.equal(partner.sasl, "optional");
    assert.equal(partner.dialback, true);
    assert.equal(partner.connectionLimit, 20);
    assert.equal(partner.proxyPort, 5269);
    assert.equal(created.revision, 1);
    assert.equal((await invoke("GetPartner", { domain: "chat.fabrikam.test" })).domain, "fabrikam.test");

    const updated = await invoke("UpdatePartner", { domain: "fabrikam.test", changes: { type: "public-unverified" } }, OTHER_TOKEN);
    assert.equal((updated.partner as Json).type, "public-unverified");
    assert.deepEqual((updated.partner as Json).additionalDomains, ["chat.fabrikam.test"]);
    assert.equal((updated.partner as Json).connectionLimit, 20);

    const listed = await invoke("ListPartners", {});
    assert.equal(listed.revision, 2);
    assert.equal((listed.partners as Json[]).length, 1);

    const audit = await invoke("ListAudit", { limit: 5 });
    const entries = audit.entries as Json[];
    assert.equal(entries[0]?.action, "partner.update");
    assert.equal(entries[0]?.actor, "ops");
    assert.equal((JSON.parse(String(entries[0]?.beforeJson)) as Json).type, "federated");
    assert.equal((JSON.parse(String(entries[0]?.afterJson)) as Json).type, "public-unverified");

    assert.equal((await invoke("RemovePartner", { domain: "fabrikam.test" })).revision, 3);
    await assert.rejects(invoke("GetPartner", { domain: "fabrikam.test" }), (err: grpc.ServiceError) => err.code === grpc.status.NOT_FOUND);
  });

  it("an invalid combination: INVALID_ARGUMENT naming the row (message and trailer)", async () => {
    await assert.rejects(invoke("CreatePartner", { domain: "bad.test", type: "federated", tls: "not-supported", sasl: "required", dialback: false }), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
      assert.match(err.details, /^invalid-combination: .*TLS Not supported \/ SASL Required \/ dialback false/);
      assert.equal(err.metadata.get("x-passerelle-row")[0], "TLS Not supported / SASL Required / dialback false");
      return true;
    });
  });

  it("export and import (dry run, then for real) round trip", async () => {
    await invoke("CreatePartner", { domain: "northwind.test", type: "federated" });
    const { yaml } = await invoke("Export", {});
    assert.match(String(yaml), /domain: northwind\.test/);
    const edited = String(yaml).replace("northwind.test", "woodgrove.test");
    const dry = await invoke("Import", { yaml: edited, dryRun: true });
    assert.deepEqual([dry.added, dry.removed, dry.dryRun], [["woodgrove.test"], ["northwind.test"], true]);
    assert.equal((await invoke("GetPartner", { domain: "northwind.test" })).domain, "northwind.test");
    const real = await invoke("Import", { yaml: edited });
    assert.deepEqual(real.added, ["woodgrove.test"]);
    await assert.rejects(invoke("GetPartner", { domain: "northwind.test" }), (err: grpc.ServiceError) => err.code === grpc.status.NOT_FOUND);
    await assert.rejects(invoke("Import", { yaml: "partners: [{ domain: x.test, type: nope }]" }), (err: grpc.ServiceError) => err.code === grpc.status.INVALID_ARGUMENT && /x\.test/.test(err.details));
  });
});
