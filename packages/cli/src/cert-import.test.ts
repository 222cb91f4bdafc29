// `passerelle cert import`: a certificate signed by a test CA (real openssl) is checked and
// assigned atomically; a wrong key, a missing SAN, expired or not-yet-valid dates, an untrusted
// or broken chain are refused with the reason, writing nothing.
import { strict as assert } from "node:assert";
import { X509Certificate, createPrivateKey } from "node:crypto";
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createTestCa, runCommand, type TestCa } from "@passerelle/testkit";
import { run } from "./cli.ts";
import { recordingContext, tempDir, writeConfig } from "./test-support.ts";

const ALL = ["contoso.example", "fabrikam.example", "edge.contoso.example"];
let dir: string;
let ca: TestCa;
let otherCa: TestCa;

before(async () => {
  dir = tempDir("import");
  ca = await createTestCa(join(dir, "ca"));
  otherCa = await createTestCa(join(dir, "other-ca"), "Other Test CA");
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A fresh gateway directory with a configuration whose edge files hold "old" content. */
function gateway(): { gw: string; config: string; certFile: string; keyFile: string } {
  const gw = tempDir("gw");
  const config = writeConfig(gw);
  const certFile = join(gw, "edge.crt");
  const keyFile = join(gw, "edge.key");
  writeFileSync(certFile, "old certificate");
  writeFileSync(keyFile, "old key");
  return { gw, config, certFile, keyFile };
}

async function refused(args: string[], reason: RegExp): Promise<void> {
  const g = gateway();
  try {
    const ctx = recordingContext(g.gw);
    const code = await run(["cert", "import", "--config", g.config, ...args], ctx);
    assert.equal(code, 1, `expected a refusal for ${args.join(" ")}; stdout: ${ctx.stdout.join("\n")}`);
    assert.equal(ctx.stderr.length, 1, "one line with the reason");
    assert.match(ctx.stderr[0] ?? "", reason);
    assert.equal(readFileSync(g.certFile, "utf8"), "old certificate", "nothing written");
    assert.equal(readFileSync(g.keyFile, "utf8"), "old key", "nothing written");
    assert.deepEqual(readdirSync(g.gw).filter((f) => f.endsWith(".tmp")), []);
  } finally {
    rmSync(g.gw, { recursive: true, force: true });
  }
}

describe("cert import", () => {
  it("assigns a certificate signed by the given CA: leaf (+ chain, without the self-signed root) and key 0600, atomically", async () => {
    const leaf = await ca.issue({ domains: ALL, name: "good", validDays: 90 });
    const g = gateway();
    const ctx = recordingContext(g.gw);
    const code = await run(["cert", "import", "--config", g.config, "--cert", leaf.chainFile, "--key", leaf.keyFile, "--ca", ca.certFile], ctx);
    assert.equal(code, 0, ctx.stderr.join("\n"));
    assert.deepEqual(ctx.stderr, [], "no warning for 90 days");
    const served = new X509Certificate(readFileSync(g.certFile));
    assert.equal(served.fingerprint256, new X509Certificate(readFileSync(leaf.certFile)).fingerprint256);
    assert.equal((readFileSync(g.certFile, "utf8").match(/BEGIN CERTIFICATE/g) ?? []).length, 1, "the root is not served");
    assert.equal(statSync(g.keyFile).mode & 0o777, 0o600);
    assert.ok(served.checkPrivateKey(createPrivateKey(readFileSync(g.keyFile, "utf8"))));
    assert.match(ctx.stdout.join("\n"), /assigned: /);
    rmSync(g.gw, { recursive: true, force: true });
  });

  it("warns when fewer than 30 days are left, and --dry-run writes nothing", async () => {
    const leaf = await ca.issue({ domains: ALL, name: "short", validDays: 10 });
    const g = gateway();
    const ctx = recordingContext(g.gw);
    const code = await run(["cert", "import", "--config", g.config, "--cert", leaf.certFile, "--key", leaf.keyFile, "--ca", ca.certFile, "--dry-run"], ctx);
    assert.equal(code, 0, ctx.stderr.join("\n"));
    assert.match(ctx.stderr.join("\n"), /warning: the certificate expires in 9 day\(s\)/);
    assert.equal(readFileSync(g.certFile, "utf8"), "old certificate");
    rmSync(g.gw, { recursive: true, force: true });
  });

  it("request → CA signs the CSR → import: the whole flow, with an encrypted key", async () => {
    const g = gateway();
    writeFileSync(join(g.gw, "pass"), "s3cret-passphrase\n");
    const ctx = recordingContext(g.gw);
    assert.equal(await run(["cert", "request", "--config", g.config, "--key", "p256", "--name", "new", "--passphrase-file", "pass", "--yes"], ctx), 0, ctx.stderr.join("\n"));
    await runCommand("openssl", [
      "x509", "-req", "-in", join(g.gw, "new.csr"), "-CA", ca.certFile, "-CAkey", ca.keyFile, "-CAcreateserial",
      "-copy_extensions", "copy", "-days", "60", "-out", join(g.gw, "new.crt"),
    ]);
    const noPass = recordingContext(g.gw);
    assert.equal(await run(["cert", "import", "--config", g.config, "--cert", "new.crt", "--key", "new.key", "--ca", ca.certFile], noPass), 1);
    assert.match(noPass.stderr.join("\n"), /the key is encrypted: pass --passphrase-file/);
    const imp = recordingContext(g.gw);
    assert.equal(await run(["cert", "import", "--config", g.config, "--cert", "new.crt", "--key", "new.key", "--passphrase-file", "pass", "--ca", ca.certFile, "--json"], imp), 0, imp.stderr.join("\n"));
    const result = JSON.parse(imp.stdout.join("\n")) as { names: string[]; assigned: boolean };
    assert.equal(result.assigned, true);
    assert.deepEqual(result.names, ["contoso.example", "fabrikam.example", "sip.contoso.example", "sip.corp.fabrikam.example", "edge.contoso.example"]);
    // The edge reads the key without a passphrase.
    assert.match(readFileSync(g.keyFile, "utf8"), /^-----BEGIN PRIVATE KEY-----/);
    rmSync(g.gw, { recursive: true, force: true });
  });

  it("extended key usage: without serverAuth refused; without clientAuth a warning (outbound SASL EXTERNAL)", async () => {
    const g = gateway();
    const ctx = recordingContext(g.gw);
    assert.equal(await run(["cert", "request", "--config", g.config, "--key", "p256", "--name", "eku", "--yes"], ctx), 0, ctx.stderr.join("\n"));
    const sign = async (usage: string, out: string): Promise<void> => {
      writeFileSync(join(g.gw, `${out}.ext`), `extendedKeyUsage = ${usage}\n`);
      await runCommand("openssl", [
        "x509", "-req", "-in", join(g.gw, "eku.csr"), "-CA", ca.certFile, "-CAkey", ca.keyFile, "-CAcreateserial",
        "-copy_extensions", "copy", "-extfile", join(g.gw, `${out}.ext`), "-days", "60", "-out", join(g.gw, out),
      ]);
    };
    await sign("clientAuth", "client-only.crt");
    const refusedCtx = recordingContext(g.gw);
    assert.equal(await run(["cert", "import", "--config", g.config, "--cert", "client-only.crt", "--key", "eku.key", "--ca", ca.certFile], refusedCtx), 1);
    assert.match(refusedCtx.stderr.join("\n"), /is not for TLS servers: its extended key usage lacks serverAuth/);
    assert.equal(readFileSync(g.certFile, "utf8"), "old certificate");
    await sign("serverAuth", "server-only.crt");
    const warned = recordingContext(g.gw);
    assert.equal(await run(["cert", "import", "--config", g.config, "--cert", "server-only.crt", "--key", "eku.key", "--ca", ca.certFile], warned), 0, warned.stderr.join("\n"));
    assert.match(warned.stderr.join("\n"), /^warning: the extended key usage lacks clientAuth/m);
    rmSync(g.gw, { recursive: true, force: true });
  });

  it("refuses a key that does not match the certificate", async () => {
    const leaf = await ca.issue({ domains: ALL, name: "wk-a" });
    const other = await ca.issue({ domains: ALL, name: "wk-b" });
    await refused(["--cert", leaf.certFile, "--key", other.keyFile, "--ca", ca.certFile], /^passerelle cert import: the key does not match the certificate "contoso.example"/);
  });

  it("refuses a certificate that misses a local domain, naming it", async () => {
    const leaf = await ca.issue({ domains: ["contoso.example", "edge.contoso.example"], name: "missing" });
    await refused(["--cert", leaf.certFile, "--key", leaf.keyFile, "--ca", ca.certFile], /does not cover fabrikam\.example \(its DNS names: contoso\.example, edge\.contoso\.example\)/);
    const noEdge = await ca.issue({ domains: ["contoso.example", "fabrikam.example"], name: "no-edge" });
    await refused(["--cert", noEdge.certFile, "--key", noEdge.keyFile, "--ca", ca.certFile], /does not cover edge\.contoso\.example/);
  });

  it("accepts a wildcard for the edge FQDN (RFC 9525: one whole label)", async () => {
    const leaf = await ca.issue({ domains: ["contoso.example", "fabrikam.example", "*.contoso.example"], name: "wild" });
    const g = gateway();
    const ctx = recordingContext(g.gw);
    assert.equal(await run(["cert", "import", "--config", g.config, "--cert", leaf.certFile, "--key", leaf.keyFile, "--ca", ca.certFile], ctx), 0, ctx.stderr.join("\n"));
    rmSync(g.gw, { recursive: true, force: true });
  });

  it("refuses an expired and a not-yet-valid certificate", async () => {
    const expired = await ca.issueExpired(ALL, "expired");
    await refused(["--cert", expired.certFile, "--key", expired.keyFile, "--ca", ca.certFile], /the certificate "contoso\.example" expired on 2020-02-01T00:00:00\.000Z/);
    const future = await ca.issue({ domains: ALL, name: "future", notBefore: "20400101000000Z", notAfter: "20410101000000Z" });
    await refused(["--cert", future.certFile, "--key", future.keyFile, "--ca", ca.certFile], /is not valid yet: valid from 2040-01-01/);
  });

  it("refuses an untrusted or broken chain", async () => {
    const leaf = await ca.issue({ domains: ALL, name: "chain" });
    await refused(["--cert", leaf.certFile, "--key", leaf.keyFile, "--ca", otherCa.certFile], /untrusted chain: the issuer of "contoso\.example" \(CN=Passerelle Test CA\) is not in /);
    await refused(["--cert", leaf.certFile, "--key", leaf.keyFile], /untrusted chain: .* is not in the system's CA store \(pass --ca/);
    const broken = join(dir, "broken.pem");
    writeFileSync(broken, readFileSync(leaf.certFile, "utf8") + readFileSync(otherCa.certFile, "utf8"));
    await refused(["--cert", broken, "--key", leaf.keyFile, "--ca", ca.certFile], /chain broken: certificate 2 "Other Test CA" did not sign certificate 1 "contoso\.example"/);
  });

  it("refuses unreadable input with the reason", async () => {
    const leaf = await ca.issue({ domains: ALL, name: "input" });
    const junk = join(dir, "junk.pem");
    writeFileSync(junk, "not a certificate");
    await refused(["--cert", junk, "--key", leaf.keyFile, "--ca", ca.certFile], /--cert: no PEM certificate found/);
    await refused(["--cert", join(dir, "absent.pem"), "--key", leaf.keyFile], /--cert: cannot read .*absent\.pem: ENOENT/);
    await refused(["--key", leaf.keyFile], /--cert is required/);
    await refused(["--cert", leaf.certFile, "--key", junk, "--ca", ca.certFile], /the key cannot be read/);
  });

  it("when the certificate cannot be written, the previous key is put back", async () => {
    const leaf = await ca.issue({ domains: ALL, name: "rollback", validDays: 90 });
    const gw = tempDir("gw-rollback");
    const keyFile = join(gw, "edge.key");
    writeFileSync(keyFile, "old key");
    const config = writeConfig(gw, { certFile: join(gw, "no-such-dir", "edge.crt"), keyFile });
    const ctx = recordingContext(gw);
    assert.equal(await run(["cert", "import", "--config", config, "--cert", leaf.certFile, "--key", leaf.keyFile, "--ca", ca.certFile], ctx), 1);
    assert.match(ctx.stderr.join("\n"), /cannot write beside .*no-such-dir\/edge\.crt: ENOENT/);
    assert.equal(readFileSync(keyFile, "utf8"), "old key");
    rmSync(gw, { recursive: true, force: true });
  });

  it("refuses when the configuration names no edge.tls files", async () => {
    const g = gateway();
    writeFileSync(g.config, readFileSync(g.config, "utf8").replace(/edge:[\s\S]*$/, ""));
    const leaf = await ca.issue({ domains: ALL, name: "no-tls" });
    const ctx = recordingContext(g.gw);
    assert.equal(await run(["cert", "import", "--config", g.config, "--cert", leaf.certFile, "--key", leaf.keyFile, "--ca", ca.certFile], ctx), 1);
    assert.match(ctx.stderr.join("\n"), /has no edge\.tls \(certFile, keyFile\): nowhere to assign/);
    assert.equal(existsSync(join(g.gw, "edge.crt")), true);
    rmSync(g.gw, { recursive: true, force: true });
  });
});
