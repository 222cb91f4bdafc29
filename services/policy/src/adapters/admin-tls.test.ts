// The admin REST API over TLS with client certificates, on a real loopback TLS listener and a real
// Redis: a certificate from the admin CA authenticates (audit actor: its CN); none, or one from
// another CA, is refused at the handshake; a renewed server certificate is served without a restart.
import assert from "node:assert/strict";
import { copyFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { request } from "node:https";
import { X509Certificate } from "node:crypto";
import { connect, type PeerCertificate } from "node:tls";
import { after, before, beforeEach, describe, it } from "node:test";
import { createScope, createTestCa, startRedis, type CertificateFiles, type RedisServer, type TestCa } from "@passerelle/testkit";
import { buildAdminTlsApp, TOKEN, type TestAdminTlsApp } from "./admin-app.testing.ts";

const scope = createScope("policy-admin-tls");
let redisServer: RedisServer;
let adminCa: TestCa;
let otherCa: TestCa;
let server: CertificateFiles;
let alice: CertificateFiles;
let stranger: CertificateFiles;
let spaced: CertificateFiles;
let t: TestAdminTlsApp | undefined;

interface Answer {
  status: number;
  json: Record<string, unknown>;
}

/** One HTTPS request to the listener (by 127.0.0.1, verifying the server as "localhost"). */
function call(
  app: TestAdminTlsApp,
  method: string,
  path: string,
  options: { client?: CertificateFiles; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const port = Number(app.listener.address.split(":").pop());
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        servername: "localhost",
        path,
        method,
        ca: readFileSync(adminCa.certFile),
        ...(options.client === undefined ? {} : { cert: readFileSync(options.client.certFile), key: readFileSync(options.client.keyFile) }),
        headers: { ...(options.body === undefined ? {} : { "content-type": "application/json" }), ...options.headers },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json: Record<string, unknown> = {};
          try {
            json = JSON.parse(text) as Record<string, unknown>;
          } catch {
            // not JSON
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(options.body === undefined ? undefined : JSON.stringify(options.body));
  });
}

before(async () => {
  redisServer = await startRedis(scope);
  adminCa = await createTestCa(scope.dir("admin-ca"), "Passerelle Admin CA");
  otherCa = await createTestCa(scope.dir("other-ca"), "Someone Else's CA");
  server = await adminCa.issue({ domains: ["localhost"], name: "server" });
  alice = await adminCa.issue({ domains: ["ops-alice"] });
  spaced = await adminCa.issue({ domains: ["Alice Smith"], name: "spaced" });
  stranger = await otherCa.issue({ domains: ["ops-mallory"] });
});
after(async () => {
  await t?.close();
  await scope.close();
});
beforeEach(async () => {
  await t?.close();
  t = undefined;
});

async function start(options: Parameters<typeof buildAdminTlsApp>[2] = {}): Promise<TestAdminTlsApp> {
  const app = await buildAdminTlsApp(redisServer.url, { certFile: server.certFile, keyFile: server.keyFile, clientCaFile: adminCa.certFile }, options);
  await app.redis.flushall();
  t = app;
  return app;
}

describe("admin API over TLS, client certificate required", () => {
  it("a certificate from the admin CA: 200, and the audit actor is its CN", async () => {
    const app = await start();
    const created = await call(app, "POST", "/v1/partners", { client: alice, body: { domain: "fabrikam.test", type: "federated" } });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const list = await call(app, "GET", "/v1/partners", { client: alice });
    assert.equal(list.status, 200);
    assert.deepEqual((list.json.partners as { domain: string }[]).map((p) => p.domain), ["fabrikam.test"]);
    const audit = await call(app, "GET", "/v1/audit?limit=5", { client: alice });
    assert.equal(audit.status, 200);
    const entries = audit.json.entries as { actor: string; action: string; target: string }[];
    assert.deepEqual(entries.map((e) => [e.actor, e.action, e.target]), [["ops-alice", "partner.create", "fabrikam.test"]]);
  });

  it("no client certificate: the handshake is refused, nothing is changed", async () => {
    const app = await start({ tokens: [{ name: "admin", token: TOKEN }] });
    await assert.rejects(
      call(app, "POST", "/v1/partners", { body: { domain: "nope.test", type: "federated" }, headers: { authorization: `Bearer ${TOKEN}` } }),
      (err: NodeJS.ErrnoException) => /certificate|ECONNRESET|socket hang up|EPIPE/i.test(`${err.code ?? ""} ${err.message}`),
    );
    assert.deepEqual(await app.store.snapshot().then((s) => s.partners.map((p) => p.domain)), []);
    // Counted with the admin requests (the server may see the refusal just after the client does).
    const refused = async (): Promise<number> => /code="tls-handshake"[^}]*\} 1\b/.test(await app.metrics.getSingleMetricAsString("passerelle_policy_admin_requests_total")) ? 1 : 0;
    for (let i = 0; i < 50 && (await refused()) === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(await refused(), 1, await app.metrics.getSingleMetricAsString("passerelle_policy_admin_requests_total"));
  });

  it("a certificate from another CA: refused at the handshake", async () => {
    const app = await start();
    await assert.rejects(call(app, "GET", "/v1/partners", { client: stranger }), (err: NodeJS.ErrnoException) =>
      /certificate|unknown ca|ECONNRESET|socket hang up|EPIPE/i.test(`${err.code ?? ""} ${err.message}`),
    );
  });

  it("a certificate whose CN cannot be an actor: 403 naming the rule", async () => {
    const app = await start();
    const answer = await call(app, "GET", "/v1/partners", { client: spaced });
    assert.equal(answer.status, 403);
    assert.equal(answer.json.error, "bad-client-certificate");
    assert.match(String(answer.json.reason), /subject CN/);
  });

  it("the OpenAPI document and unknown routes answer as on the plain port; /metrics is not served here", async () => {
    const app = await start();
    assert.equal((await call(app, "GET", "/openapi.json", { client: alice })).status, 200);
    const missing = await call(app, "GET", "/v1/nothing", { client: alice });
    assert.equal(missing.status, 404);
    assert.equal((await call(app, "GET", "/metrics", { client: alice })).status, 404);
  });

  it("a renewed server certificate is served to new connections after a reload, without a restart", async () => {
    const app = await start();
    const renewed = await adminCa.issue({ domains: ["localhost"], name: "server-renewed" });
    const port = Number(app.listener.address.split(":").pop());
    const served = (): Promise<PeerCertificate> =>
      new Promise((resolve, reject) => {
        const socket = connect({ host: "127.0.0.1", port, servername: "localhost", ca: readFileSync(adminCa.certFile), cert: readFileSync(alice.certFile), key: readFileSync(alice.keyFile) }, () => {
          const cert = socket.getPeerCertificate();
          socket.end();
          resolve(cert);
        });
        socket.on("error", reject);
      });
    const expected = (file: string): string => new X509Certificate(readFileSync(file)).serialNumber;
    assert.equal((await served()).serialNumber, expected(server.certFile));
    assert.equal(app.listener.reload(), false, "unchanged files: nothing to do");
    copyFileSync(renewed.certFile, server.certFile);
    copyFileSync(renewed.keyFile, server.keyFile);
    assert.equal(app.listener.reload(), true);
    assert.equal((await served()).serialNumber, expected(renewed.certFile));
  });

  it("an unreadable certificate file fails the start, naming the setting and the file", async () => {
    await assert.rejects(
      buildAdminTlsApp(redisServer.url, { certFile: join(scope.workDir, "missing.crt"), keyFile: server.keyFile, clientCaFile: adminCa.certFile }),
      /services\.policy\.adminTls\.certFile .*missing\.crt/,
    );
  });
});

describe("admin API over TLS, client certificate optional", () => {
  it("without a certificate a bearer token still works; a wrong one is 401; with one the CN is the actor", async () => {
    const app = await start({ requireClientCert: false, tokens: [{ name: "admin", token: TOKEN }] });
    const byToken = await call(app, "POST", "/v1/partners", { body: { domain: "a.test", type: "federated" }, headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(byToken.status, 201, JSON.stringify(byToken.json));
    const wrong = await call(app, "GET", "/v1/partners", { headers: { authorization: "Bearer wrong-token-0123456789" } });
    assert.equal(wrong.status, 401);
    // A certificate from another CA is not verified: it counts for nothing, the token is still needed.
    const foreign = await call(app, "GET", "/v1/partners", { client: stranger });
    assert.equal(foreign.status, 401);
    const byCert = await call(app, "DELETE", "/v1/partners/a.test", { client: alice });
    assert.equal(byCert.status, 204);
    const audit = await call(app, "GET", "/v1/audit?limit=5", { client: alice });
    const entries = audit.json.entries as { actor: string; action: string }[];
    assert.deepEqual(entries.map((e) => [e.actor, e.action]), [["ops-alice", "partner.remove"], ["admin", "partner.create"]]);
  });
});
