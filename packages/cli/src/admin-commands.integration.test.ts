// The admin commands against the policy service's real admin HTTP app (its routes, matrix and
// errors, on a real Redis): checks that the CLI and the server agree on the contract. The
// server's own behaviour is tested in services/policy; here, what the admin sees.
import { strict as assert } from "node:assert";
import type { AddressInfo } from "node:net";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createScope, startRedis, type RedisServer } from "@passerelle/testkit";
import { parse as parseYaml, stringify } from "yaml";
import { buildAdminApp, LOCAL_DOMAIN, TOKEN, type TestAdminApp } from "../../../services/policy/src/adapters/admin-app.testing.ts";
import { run } from "./cli.ts";
import { recordingContext, tempDir } from "./test-support.ts";

const scope = createScope("cli-admin");
let redis: RedisServer;
let t: TestAdminApp;
let url: string;
let dir: string;

before(async () => {
  dir = tempDir("admin-int");
  redis = await startRedis(scope);
  t = await buildAdminApp(redis.url);
  await t.redis.flushall();
  await t.app.listen({ host: "127.0.0.1", port: 0 });
  url = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
});
after(async () => {
  await t?.close();
  await scope.close();
  rmSync(dir, { recursive: true, force: true });
});

async function cli(argv: string[], token = TOKEN): Promise<{ code: number; out: string; err: string }> {
  const ctx = recordingContext(dir, { env: { PASSERELLE_ADMIN_URL: url, PASSERELLE_ADMIN_TOKEN: token } });
  const code = await run(argv, ctx);
  return { code, out: ctx.stdout.join("\n"), err: ctx.stderr.join("\n") };
}

describe("passerelle partner/settings/user against the policy service's admin API", () => {
  it("a wrong token is refused with the server's reason and creates nothing", async () => {
    const r = await cli(["partner", "new", "fabrikam.test", "--type", "federated"], "wrong-token-0123456789");
    assert.equal(r.code, 1);
    assert.match(r.err, /^passerelle partner new: .+ \(unauthorized\)$/);
    const list = await cli(["partner", "list"]);
    assert.equal(list.out, "no partners");
  });

  it("new / set / get / list; the matrix row named on an invalid combination; warnings printed", async () => {
    const created = await cli(["partner", "new", "fabrikam.test", "--type", "federated", "--additional-domain", "chat.fabrikam.test", "--description", "Fabrikam"]);
    assert.equal(created.code, 0, created.err);
    assert.match(created.out, /partner fabrikam\.test created[\s\S]*tls: +required[\s\S]*connection limit: +20/);

    const invalid = await cli(["partner", "set", "fabrikam.test", "--tls", "not-supported", "--no-dialback"]);
    assert.equal(invalid.code, 1);
    assert.match(invalid.err, /^passerelle partner set: invalid combination TLS Not supported \/ SASL Optional \/ dialback false: with TLS Not supported and dialback false the partner has no way to authenticate.*\(invalid-combination\)$/);

    const warned = await cli(["partner", "set", "fabrikam.test", "--tls", "not-supported", "--sasl", "not-supported", "--no-keepalive", "--connection-limit", "7"]);
    assert.equal(warned.code, 0, warned.err);
    assert.match(warned.err, /^warning: .*unencrypted/m);

    const byAdditional = await cli(["partner", "get", "chat.fabrikam.test", "--json"]);
    assert.equal(byAdditional.code, 0, byAdditional.err);
    const p = JSON.parse(byAdditional.out) as { domain: string; tls: string; keepalive: boolean; connectionLimit: number };
    assert.deepEqual([p.domain, p.tls, p.keepalive, p.connectionLimit], ["fabrikam.test", "not-supported", false, 7]);

    const own = await cli(["partner", "new", LOCAL_DOMAIN, "--type", "federated"]);
    assert.equal(own.code, 1);
    assert.match(own.err, /passerelle partner new: .*contoso\.test.*\(/);

    const list = await cli(["partner", "list"]);
    assert.match(list.out.split("\n")[1] ?? "", /^fabrikam\.test\s+federated\s+not-supported\s+not-supported\s+yes\s+7\s+no\s+-\s+chat\.fabrikam\.test$/);
  });

  it("export → edit → import (dry run, then applied) → remove", async () => {
    const file = join(dir, "partners.yaml");
    assert.equal((await cli(["partner", "export", "--out", file])).code, 0);
    const doc = parseYaml(readFileSync(file, "utf8")) as { partners: Record<string, unknown>[] };
    doc.partners.push({ domain: "litware.test", type: "public-unverified" });
    writeFileSync(file, stringify(doc));
    const dry = await cli(["partner", "import", file, "--dry-run"]);
    assert.equal(dry.code, 0, dry.err);
    assert.match(dry.out, /added: +litware\.test/);
    assert.equal((await cli(["partner", "get", "litware.test"])).code, 1, "the dry run changed nothing");
    const applied = await cli(["partner", "import", file, "--yes"]);
    assert.equal(applied.code, 0, applied.err);
    assert.equal((await cli(["partner", "get", "litware.test"])).code, 0);

    writeFileSync(file, stringify({ partners: [{ domain: "bad.test", type: "federated", tls: "not-supported", dialback: false }] }));
    const bad = await cli(["partner", "import", file, "--yes"]);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /nothing was changed \(invalid-import\)\n {2}- .*bad\.test/);

    const removed = await cli(["partner", "remove", "litware.test", "--yes"]);
    assert.equal(removed.code, 0, removed.err);
    const gone = await cli(["partner", "get", "litware.test"]);
    assert.match(gone.err, /\(not-found\)$/);
  });

  it("settings and users", async () => {
    const set = await cli(["settings", "set", "xmppAccessDefault=false"]);
    assert.equal(set.code, 0, set.err);
    assert.match(set.out, /xmppAccessDefault +false/);
    const unknown = await cli(["settings", "set", "colour=blue"]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /\(bad-body\)$/);

    const juliet = `juliet@${LOCAL_DOMAIN}`;
    assert.equal((await cli(["user", "access", juliet, "on"])).code, 0);
    const allow = await cli(["user", "allow", juliet, "romeo@litware.test"]);
    assert.equal(allow.code, 0, allow.err);
    const get = await cli(["user", "get", juliet]);
    assert.match(get.out, /xmpp access: yes\nallowed: +romeo@litware\.test/);
    assert.equal((await cli(["user", "disallow", juliet, "romeo@litware.test"])).code, 0);
    const foreign = await cli(["user", "get", "x@elsewhere.test"]);
    assert.equal(foreign.code, 1);
    assert.match(foreign.err, /not one of our domains \(bad-user\)/);
  });

  it("audit shows who changed what, newest first", async () => {
    const r = await cli(["audit", "--limit", "3"]);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.split("\n");
    assert.match(lines[0] ?? "", /^AT\s+ACTOR\s+ACTION\s+TARGET$/);
    assert.equal(lines.length, 4);
    assert.match(lines[1] ?? "", /^\d{4}-\d\d-\d\dT\S+\s+admin\s+user\.disallow\s+/);
    const json = await cli(["audit", "--limit", "1", "--json"]);
    const entries = (JSON.parse(json.out) as { entries: { action: string; before: unknown; after: unknown }[] }).entries;
    assert.equal(entries.length, 1);
    assert.equal(entries[0]?.action, "user.disallow");
    const bad = await cli(["audit", "--limit", "0"]);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /--limit: expected 1 to 1000/);
  });
});
