// The admin gRPC API over TLS with client certificates, for real over loopback, on a real Redis:
// the caller a verified certificate names is the audit actor; no certificate, or one from another
// CA, is refused at the handshake; without requireClientCert, bearer tokens over TLS.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { createScope, createTestCa, startRedis, type CertificateFiles, type TestCa } from "@passerelle/testkit";
import { buildAdminApp, TOKEN, type TestAdminApp } from "./admin-app.testing.ts";
import { adminClientConstructor, startAdminGrpc, type AdminGrpcServer } from "./grpc-server.ts";

const scope = createScope("policy-admin-grpc-tls");
let t: TestAdminApp;
let adminCa: TestCa;
let otherCa: TestCa;
let serverCert: CertificateFiles;
let alice: CertificateFiles;
let stranger: CertificateFiles;
const servers: AdminGrpcServer[] = [];
const clients: grpc.Client[] = [];

type Json = Record<string, unknown>;
type Unary = (request: object, metadata: grpc.Metadata, options: grpc.CallOptions, callback: (err: grpc.ServiceError | null, response: Json) => void) => void;

async function serve(requireClientCert: boolean): Promise<AdminGrpcServer> {
  const s = await startAdminGrpc({
    host: "127.0.0.1",
    port: 0,
    tls: { certFile: serverCert.certFile, keyFile: serverCert.keyFile, clientCaFile: adminCa.certFile, requireClientCert },
    tokens: [{ name: "admin", token: TOKEN }],
    admin: t.admin,
    log: t.log,
  });
  servers.push(s);
  return s;
}

function connect(port: number, identity: CertificateFiles | undefined): grpc.Client {
  const Client = adminClientConstructor();
  const credentials = grpc.credentials.createSsl(
    readFileSync(adminCa.certFile),
    identity === undefined ? null : readFileSync(identity.keyFile),
    identity === undefined ? null : readFileSync(identity.certFile),
  );
  // The server's certificate names localhost; the connection goes to 127.0.0.1 where it listens.
  const c = new Client(`127.0.0.1:${port}`, credentials, { "grpc.ssl_target_name_override": "localhost", "grpc.default_authority": "localhost" });
  clients.push(c);
  return c;
}

function invoke(client: grpc.Client, method: string, request: object, token?: string): Promise<Json> {
  const fn = (client as unknown as Record<string, Unary>)[method];
  assert.ok(fn);
  const metadata = new grpc.Metadata();
  if (token !== undefined) metadata.set("authorization", `Bearer ${token}`);
  return new Promise((resolve, reject) => fn.call(client, request, metadata, { deadline: Date.now() + 5000 }, (err, response) => (err === null ? resolve(response) : reject(err))));
}

before(async () => {
  const redis = await startRedis(scope);
  t = await buildAdminApp(redis.url);
  await t.redis.flushall();
  adminCa = await createTestCa(scope.dir("admin-ca"), "Passerelle Admin CA");
  otherCa = await createTestCa(scope.dir("other-ca"), "Someone Else's CA");
  serverCert = await adminCa.issue({ domains: ["localhost"], name: "server" });
  alice = await adminCa.issue({ domains: ["ops-alice"] });
  stranger = await otherCa.issue({ domains: ["ops-mallory"] });
});
after(async () => {
  for (const c of clients) c.close();
  for (const s of servers) await s.close();
  await t?.close();
  await scope.close();
});

describe("admin gRPC API over TLS", () => {
  it("a client certificate signed by the client CA authenticates; its CN is the audit actor", async () => {
    const s = await serve(true);
    const client = connect(s.port, alice);
    const created = await invoke(client, "CreatePartner", { domain: "fabrikam.test", type: "federated" });
    assert.equal((created.partner as Json).domain, "fabrikam.test");
    const audit = await invoke(client, "ListAudit", { limit: 1 });
    const entry = (audit.entries as Json[])[0];
    assert.equal(entry?.actor, "ops-alice");
    assert.equal(entry?.action, "partner.create");
  });

  it("no certificate, or one from another CA, is refused and changes nothing", async () => {
    const s = await serve(true);
    const before = await t.redis.get("passerelle:policy:partners:revision");
    for (const identity of [undefined, stranger]) {
      await assert.rejects(invoke(connect(s.port, identity), "RemovePartner", { domain: "fabrikam.test" }, TOKEN), (err: grpc.ServiceError) => err.code === grpc.status.UNAVAILABLE);
    }
    assert.equal(await t.redis.get("passerelle:policy:partners:revision"), before);
  });

  it("without requireClientCert: bearer tokens over TLS, none refused", async () => {
    const s = await serve(false);
    const client = connect(s.port, undefined);
    await assert.rejects(invoke(client, "ListPartners", {}), (err: grpc.ServiceError) => err.code === grpc.status.UNAUTHENTICATED);
    const listed = await invoke(client, "ListPartners", {}, TOKEN);
    assert.ok((listed.partners as Json[]).some((p) => p.domain === "fabrikam.test"));
  });

  it("a missing certificate file stops the start, naming the setting", async () => {
    await assert.rejects(
      startAdminGrpc({ host: "127.0.0.1", port: 0, tls: { certFile: "/nonexistent/admin.crt", keyFile: serverCert.keyFile, clientCaFile: adminCa.certFile, requireClientCert: true }, tokens: [], admin: t.admin, log: t.log }),
      /services\.policy\.adminTls\.certFile: cannot read \/nonexistent\/admin\.crt/,
    );
  });
});
