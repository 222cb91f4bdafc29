// policy's main.ts with services.policy.adminTls: the real process (real NATS and Redis) serves the
// admin API over TLS with client certificates beside the plain port, where bearer tokens and
// /metrics stay; the passerelle CLI talks to both. A counter shared by the two listeners.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { stringify } from "yaml";
import { createScope, createTestCa, freePort, repoRoot, spawnProcess, startNats, startRedis, type CertificateFiles, type RunningProcess, type TestCa } from "@passerelle/testkit";
import { run } from "../../../packages/cli/src/cli.ts";
import { recordingContext } from "../../../packages/cli/src/test-support.ts";

const TOKEN = "main-admin-token-0123456789";
const scope = createScope("policy-main-admin-tls");
let policy: RunningProcess;
let ca: TestCa;
let alice: CertificateFiles;
let httpUrl: string;
let tlsUrl: string;

before(async () => {
  const [nats, redis] = await Promise.all([startNats(scope, { jetstream: true }), startRedis(scope)]);
  ca = await createTestCa(scope.dir("ca"), "Passerelle Admin CA");
  const server = await ca.issue({ domains: ["localhost"], name: "server" });
  alice = await ca.issue({ domains: ["ops-alice"] });
  const [httpPort, grpcPort, tlsPort] = [await freePort("127.0.0.1"), await freePort("127.0.0.1"), await freePort("127.0.0.1")];
  const secretFile = join(scope.workDir, "dialback");
  writeFileSync(secretFile, "0123456789abcdef0123456789abcdef\n");
  const configFile = join(scope.workDir, "passerelle.yaml");
  writeFileSync(
    configFile,
    stringify({
      domains: [{ xmpp: "contoso.test" }],
      gateway: { edgeFqdn: "xmpp.contoso.test", dialback: { secretFile } },
      sip: { proxy: { host: "127.0.0.1", port: 5060 } },
      nats: { url: nats.url },
      redis: { url: redis.url },
      partners: [{ domain: "fabrikam.test", type: "federated" }],
      services: {
        policy: {
          http: { host: "127.0.0.1", port: httpPort },
          grpc: { host: "127.0.0.1", port: grpcPort },
          adminTls: { host: "127.0.0.1", port: tlsPort, certFile: server.certFile, keyFile: server.keyFile, clientCaFile: ca.certFile },
        },
      },
    }),
  );
  policy = spawnProcess(scope, {
    name: "policy",
    command: process.execPath,
    args: ["--import", "tsx", join(repoRoot, "services/policy/src/main.ts")],
    cwd: repoRoot,
    env: { ...process.env, PASSERELLE_CONFIG: configFile, PASSERELLE_ADMIN_TOKEN: TOKEN, LOG_LEVEL: "info" },
  });
  await policy.waitForLog("policy ready", 60_000);
  httpUrl = `http://127.0.0.1:${httpPort}`;
  tlsUrl = `https://localhost:${tlsPort}`;
});
after(async () => {
  await scope.close();
});

async function cli(argv: string[], env: Record<string, string>): Promise<{ code: number; out: string; err: string }> {
  const ctx = recordingContext(scope.workDir, { env });
  const code = await run(argv, ctx);
  return { code, out: ctx.stdout.join("\n"), err: ctx.stderr.join("\n") };
}

describe("policy main.ts with adminTls", () => {
  it("logs the TLS listener, and the client certificate's CN is the audit actor of a change made through it", async () => {
    assert.match(policy.logTail(200), /admin API listening over TLS/);
    const tls = { PASSERELLE_ADMIN_URL: tlsUrl, PASSERELLE_ADMIN_CERT: alice.certFile, PASSERELLE_ADMIN_KEY: alice.keyFile, PASSERELLE_ADMIN_CA: ca.certFile };
    const set = await cli(["partner", "set", "fabrikam.test", "--description", "changed over mTLS"], tls);
    assert.equal(set.code, 0, set.err);
    const audit = await cli(["audit", "--json"], { PASSERELLE_ADMIN_URL: httpUrl, PASSERELLE_ADMIN_TOKEN: TOKEN });
    assert.equal(audit.code, 0, audit.err);
    const { entries } = JSON.parse(audit.out) as { entries: { actor: string; action: string; target: string }[] };
    assert.deepEqual([entries[0]?.actor, entries[0]?.action, entries[0]?.target], ["ops-alice", "partner.update", "fabrikam.test"]);
  });

  it("the plain port keeps bearer tokens and /metrics, which count the requests of both listeners", async () => {
    const plain = await cli(["partner", "get", "fabrikam.test", "--json"], { PASSERELLE_ADMIN_URL: httpUrl, PASSERELLE_ADMIN_TOKEN: TOKEN });
    assert.equal(plain.code, 0, plain.err);
    assert.equal((JSON.parse(plain.out) as { description: string }).description, "changed over mTLS");
    const metrics = await (await fetch(`${httpUrl}/metrics`)).text();
    const ok = /passerelle_policy_admin_requests_total\{[^}]*outcome="ok"[^}]*\} (\d+)/.exec(metrics);
    assert.ok(ok, "the admin requests counter is exported");
    assert.ok(Number(ok[1]) >= 3, `both listeners count (got ${ok[1]})`);
  });

  it("without a client certificate the TLS listener refuses; the process keeps running", async () => {
    const r = await cli(["partner", "list"], { PASSERELLE_ADMIN_URL: tlsUrl, PASSERELLE_ADMIN_TOKEN: TOKEN, PASSERELLE_ADMIN_CA: ca.certFile });
    assert.equal(r.code, 1);
    assert.match(r.err, /cannot reach the admin API/);
    assert.equal(policy.exitInfo(), undefined);
  });
});
