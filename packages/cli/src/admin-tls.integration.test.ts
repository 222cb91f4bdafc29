// The admin commands against the policy service's admin API over TLS with a client certificate
// (--cert/--key/--ca): a real loopback TLS listener, a test CA, a real Redis.
import { strict as assert } from "node:assert";
import { rmSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { createScope, createTestCa, startRedis, type CertificateFiles, type TestCa } from "@passerelle/testkit";
import { buildAdminTlsApp, type TestAdminTlsApp } from "../../../services/policy/src/adapters/admin-app.testing.ts";
import { run } from "./cli.ts";
import { recordingContext, tempDir } from "./test-support.ts";

const scope = createScope("cli-admin-tls");
let t: TestAdminTlsApp;
let ca: TestCa;
let otherCa: TestCa;
let alice: CertificateFiles;
let stranger: CertificateFiles;
let dir: string;

before(async () => {
  dir = tempDir("admin-tls");
  const redis = await startRedis(scope);
  ca = await createTestCa(scope.dir("ca"), "Passerelle Admin CA");
  otherCa = await createTestCa(scope.dir("other-ca"), "Another CA");
  const server = await ca.issue({ domains: ["localhost"], name: "server" });
  alice = await ca.issue({ domains: ["ops-alice"] });
  stranger = await otherCa.issue({ domains: ["ops-mallory"] });
  t = await buildAdminTlsApp(redis.url, { certFile: server.certFile, keyFile: server.keyFile, clientCaFile: ca.certFile });
  await t.redis.flushall();
});
after(async () => {
  await t?.close();
  await scope.close();
  rmSync(dir, { recursive: true, force: true });
});

async function cli(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  const ctx = recordingContext(dir, { env: { PASSERELLE_ADMIN_URL: t.url, ...env } });
  const code = await run(argv, ctx);
  return { code, out: ctx.stdout.join("\n"), err: ctx.stderr.join("\n") };
}

const asAlice = (): string[] => ["--cert", alice.certFile, "--key", alice.keyFile, "--ca", ca.certFile];

describe("passerelle partner/audit with a client certificate", () => {
  it("creates and lists partners without a token; the audit log names the certificate's CN", async () => {
    const created = await cli(["partner", "new", "fabrikam.test", "--type", "federated", ...asAlice()]);
    assert.equal(created.code, 0, created.err);
    assert.match(created.out, /partner fabrikam\.test created/);
    const list = await cli(["partner", "list", "--json", ...asAlice()]);
    assert.equal(list.code, 0, list.err);
    assert.deepEqual((JSON.parse(list.out) as { partners: { domain: string }[] }).partners.map((p) => p.domain), ["fabrikam.test"]);
    const audit = await cli(["audit", "--json", ...asAlice()]);
    assert.equal(audit.code, 0, audit.err);
    const { entries } = JSON.parse(audit.out) as { entries: { actor: string; action: string }[] };
    assert.deepEqual(entries.map((e) => [e.actor, e.action]), [["ops-alice", "partner.create"]]);
  });

  it("the same through $PASSERELLE_ADMIN_CERT / _KEY / _CA", async () => {
    const r = await cli(["partner", "get", "fabrikam.test"], { PASSERELLE_ADMIN_CERT: alice.certFile, PASSERELLE_ADMIN_KEY: alice.keyFile, PASSERELLE_ADMIN_CA: ca.certFile });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /fabrikam\.test/);
  });

  it("without a certificate, or with one from another CA: the handshake is refused, reported as unreachable", async () => {
    const none = await cli(["partner", "list", "--ca", ca.certFile], { PASSERELLE_ADMIN_TOKEN: "some-token-0123456789" });
    assert.equal(none.code, 1);
    assert.match(none.err, /cannot reach the admin API at https:\/\/localhost:\d+: /);
    assert.doesNotMatch(none.err, /unauthorized/, "refused by TLS, not by the HTTP layer");
    const foreign = await cli(["partner", "list", "--cert", stranger.certFile, "--key", stranger.keyFile, "--ca", ca.certFile]);
    assert.equal(foreign.code, 1);
    assert.match(foreign.err, /cannot reach the admin API/);
  });

  it("a server certificate the --ca does not vouch for is refused by the CLI", async () => {
    const r = await cli(["partner", "list", "--cert", alice.certFile, "--key", alice.keyFile, "--ca", otherCa.certFile]);
    assert.equal(r.code, 1);
    assert.match(r.err, /cannot reach the admin API at .*(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|unable to verify|certificate)/i);
  });

  it("bad options: --cert without --key, a certificate for http://, a file that is not PEM", async () => {
    const lone = await cli(["partner", "list", "--cert", alice.certFile]);
    assert.equal(lone.code, 1);
    assert.match(lone.err, /--cert and --key go together/);
    const plain = await cli(["partner", "list", "--url", "http://127.0.0.1:9", ...asAlice()]);
    assert.equal(plain.code, 1);
    assert.match(plain.err, /need an https:\/\/ --url/);
    const notPem = await cli(["partner", "list", "--cert", alice.certFile, "--key", alice.certFile, "--ca", ca.certFile]);
    assert.equal(notPem.code, 1);
    assert.match(notPem.err, /--key: .* holds no PEM private key/);
  });
});
