// `passerelle cert request`: the CSR verifies under the real openssl and carries the SANs from
// the configuration; the key is written 0600, PKCS#8, encrypted when asked; refusals are clear.
import { strict as assert } from "node:assert";
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { runCommand } from "@passerelle/testkit";
import { run } from "./cli.ts";
import { recordingContext, tempDir, writeConfig } from "./test-support.ts";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function setup(): { dir: string; config: string } {
  const dir = tempDir("req");
  dirs.push(dir);
  return { dir, config: writeConfig(dir) };
}

const EXPECTED_SANS = ["contoso.example", "fabrikam.example", "sip.contoso.example", "sip.corp.fabrikam.example", "edge.contoso.example"];

async function opensslText(csrFile: string): Promise<{ text: string; verify: string }> {
  const result = await runCommand("openssl", ["req", "-in", csrFile, "-verify", "-noout", "-text"]);
  return { text: result.stdout, verify: result.stderr + result.stdout };
}

function sansOf(text: string): string[] {
  const line = /X509v3 Subject Alternative Name:\s*\n\s*(.*)\n/.exec(text)?.[1] ?? "";
  return line.split(",").map((s) => s.trim().replace(/^DNS:/, ""));
}

describe("cert request", () => {
  for (const [kind, algo] of [
    ["rsa2048", /Public-Key: \(2048 bit\)/],
    ["p256", /NIST CURVE: P-256/],
  ] as const) {
    it(`${kind}: the CSR passes openssl req -verify and shows the configured SANs plus --san`, async () => {
      const { dir, config } = setup();
      const ctx = recordingContext(dir);
      const code = await run(
        ["cert", "request", "--config", config, "--key", kind, "--o", "Contoso, Ltd", "--ou", "IT", "--l", "Lyon", "--st", "Rhône", "--c", "fr", "--san", "XMPP.contoso.example", "--san", "contoso.example", "--name", "edge 2026", "--out-dir", "out", "--yes"],
        ctx,
      );
      assert.equal(code, 0, ctx.stderr.join("\n"));
      const csrFile = join(dir, "out", "edge-2026.csr");
      const keyFile = join(dir, "out", "edge-2026.key");
      const { text, verify } = await opensslText(csrFile);
      assert.match(verify, /verify OK/);
      assert.match(text, algo);
      assert.match(text, /Subject: C = FR, ST = Rh\S+ne, L = Lyon, O = "Contoso, Ltd", OU = IT, CN = edge\.contoso\.example/);
      // Deduplicated (contoso.example given again), lower-cased, in order: config first, then --san.
      assert.deepEqual(sansOf(text), [...EXPECTED_SANS, "xmpp.contoso.example"]);

      assert.equal(statSync(keyFile).mode & 0o777, 0o600);
      const keyPem = readFileSync(keyFile, "utf8");
      assert.match(keyPem, /^-----BEGIN PRIVATE KEY-----/);
      // The key belongs to the CSR: openssl derives the same public key from both.
      const fromKey = await runCommand("openssl", ["pkey", "-in", keyFile, "-pubout"]);
      const fromCsr = await runCommand("openssl", ["req", "-in", csrFile, "-noout", "-pubkey"]);
      assert.equal(fromKey.stdout, fromCsr.stdout);

      const summary = JSON.parse(readFileSync(join(dir, "out", "edge-2026.json"), "utf8")) as { name: string; sans: string[]; key: string };
      assert.equal(summary.name, "edge 2026");
      assert.equal(summary.key, kind);
      assert.deepEqual(summary.sans, [...EXPECTED_SANS, "xmpp.contoso.example"]);
      assert.ok(ctx.stdout.some((l) => l.includes("sip.corp.fabrikam.example  (SIP domain)")), "the summary lists each name and why");
    });
  }

  it("encrypts the key with --passphrase-file (PKCS#8, AES-256-CBC) and openssl opens it with the passphrase only", async () => {
    const { dir, config } = setup();
    writeFileSync(join(dir, "pass"), "correct horse battery\n");
    const ctx = recordingContext(dir);
    const code = await run(["cert", "request", "--config", config, "--key", "p256", "--passphrase-file", "pass", "--yes"], ctx);
    assert.equal(code, 0, ctx.stderr.join("\n"));
    const keyFile = join(dir, "edge.contoso.example.key");
    assert.match(readFileSync(keyFile, "utf8"), /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    const info = await runCommand("openssl", ["pkey", "-in", keyFile, "-passin", "pass:correct horse battery", "-noout"], { allowFailure: true });
    assert.equal(info.code, 0, info.stderr);
    const wrong = await runCommand("openssl", ["pkey", "-in", keyFile, "-passin", "pass:wrong", "-noout"], { allowFailure: true });
    assert.notEqual(wrong.code, 0);
    const asn = await runCommand("openssl", ["asn1parse", "-in", keyFile]);
    assert.match(asn.stdout, /aes-256-cbc/);
  });

  it("asks before writing on a terminal; no answer writes nothing", async () => {
    const { dir, config } = setup();
    const ctx = recordingContext(dir, { interactive: true });
    ctx.answers.push(false);
    assert.equal(await run(["cert", "request", "--config", config], ctx), 1);
    assert.equal(existsSync(join(dir, "edge.contoso.example.key")), false);
    ctx.answers.push(true);
    assert.equal(await run(["cert", "request", "--config", config, "--key", "p256"], ctx), 0);
    assert.equal(existsSync(join(dir, "edge.contoso.example.key")), true);
  });

  it("refuses without a terminal and without --yes, writing nothing", async () => {
    const { dir, config } = setup();
    const ctx = recordingContext(dir);
    assert.equal(await run(["cert", "request", "--config", config], ctx), 1);
    assert.match(ctx.stderr.join("\n"), /pass --yes/);
    assert.equal(existsSync(join(dir, "edge.contoso.example.key")), false);
  });

  it("refuses bad input with the reason: key type, SAN, country, existing files, missing config", async () => {
    const { dir, config } = setup();
    const cases: [string[], RegExp][] = [
      [["--key", "rsa1024"], /--key: expected one of rsa2048, rsa3072, rsa4096, p256/],
      [["--san", "bad_name.example"], /--san "bad_name.example": "bad_name" is not a valid DNS label/],
      [["--san", "foo.*.example"], /wildcard may only be the whole first label/],
      [["--san", "localhost"], /not a fully qualified domain name/],
      [["--c", "France"], /--c: expected a two-letter country code/],
      [["--cn", "x".repeat(65)], /--cn: longer than 64 characters/],
      [["--key"], /--key needs a value/],
    ];
    for (const [extra, reason] of cases) {
      const ctx = recordingContext(dir);
      const code = await run(["cert", "request", "--config", config, "--yes", ...extra], ctx);
      assert.notEqual(code, 0, extra.join(" "));
      assert.match(ctx.stderr.join("\n"), reason);
    }
    const missing = recordingContext(dir);
    assert.equal(await run(["cert", "request", "--config", join(dir, "nope.yaml"), "--yes"], missing), 1);
    assert.match(missing.stderr.join("\n"), /cannot read the file/);

    writeFileSync(join(dir, "edge.contoso.example.csr"), "old");
    const exists = recordingContext(dir);
    assert.equal(await run(["cert", "request", "--config", config, "--yes"], exists), 1);
    assert.match(exists.stderr.join("\n"), /already exists \(pass --force/);
    assert.equal(readFileSync(join(dir, "edge.contoso.example.csr"), "utf8"), "old");
  });

  it("reads the configuration from PASSERELLE_CONFIG, else ./passerelle.yaml", async () => {
    const { dir } = setup();
    const ctx = recordingContext(dir, { env: {} });
    assert.equal(await run(["cert", "request", "--key", "p256", "--yes", "--json"], ctx), 0, ctx.stderr.join("\n"));
    const summary = JSON.parse(ctx.stdout.join("\n")) as { sans: string[] };
    assert.deepEqual(summary.sans, EXPECTED_SANS);

    const other = tempDir("req-env");
    dirs.push(other);
    const viaEnv = recordingContext(other, { env: { PASSERELLE_CONFIG: join(dir, "passerelle.yaml") } });
    assert.equal(await run(["cert", "request", "--key", "p256", "--yes", "--json", "--name", "env"], viaEnv), 0, viaEnv.stderr.join("\n"));
    assert.equal(existsSync(join(other, "env.csr")), true);
  });
});
