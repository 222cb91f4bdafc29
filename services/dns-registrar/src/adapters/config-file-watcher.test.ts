import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { GatewayConfig } from "@passerelle/config";
import { ConfigFileWatcher } from "./config-file-watcher.ts";

const base = (domains: string[]): string =>
  [
    "domains:",
    ...domains.map((d) => `  - xmpp: ${d}`),
    "gateway:",
    "  edgeFqdn: edge.contoso.com",
    "  dialback:",
    "    secret: a-dialback-secret-of-some-length",
    "sip:",
    "  proxy:",
    "    host: 127.0.0.4",
    "",
  ].join("\n");

function setup() {
  const dir = mkdtempSync(join(tmpdir(), "watcher-"));
  const path = join(dir, "passerelle.yaml");
  writeFileSync(path, base(["contoso.com"]));
  let now = 0;
  const applied: GatewayConfig[] = [];
  const invalid: string[] = [];
  const watcher = new ConfigFileWatcher({ path, debounceMs: 500, now: () => now, onChange: (c) => applied.push(c), onInvalid: (p) => invalid.push(p) });
  return { dir, path, watcher, applied, invalid, tick: (ms: number) => ((now += ms), watcher.poll()) };
}

test("a change is applied once it has stayed the same for the debounce time, and only once", (t) => {
  const s = setup();
  t.after(() => rmSync(s.dir, { recursive: true }));
  s.tick(1000);
  assert.equal(s.applied.length, 0, "the content the service started with is not re-applied");
  writeFileSync(s.path, base(["contoso.com", "fabrikam.com"]));
  s.tick(1000); // seen for the first time
  assert.equal(s.applied.length, 0);
  s.tick(200); // still within the debounce time
  assert.equal(s.applied.length, 0);
  s.tick(400);
  assert.deepEqual(s.applied.map((c) => c.domains.map((d) => d.xmpp)), [["contoso.com", "fabrikam.com"]]);
  s.tick(1000);
  assert.equal(s.applied.length, 1);
});

test("an invalid file is reported once and applies nothing; the next valid content is applied", (t) => {
  const s = setup();
  t.after(() => rmSync(s.dir, { recursive: true }));
  writeFileSync(s.path, "domains:\n  - xmpp: 'not a domain!'\n");
  s.tick(1000);
  s.tick(1000);
  s.tick(1000);
  assert.equal(s.applied.length, 0);
  assert.equal(s.invalid.length, 1);
  assert.match(s.invalid[0] ?? "", /domain|gateway/i);
  writeFileSync(s.path, "domains: [unclosed\n");
  s.tick(1000);
  s.tick(1000);
  assert.equal(s.invalid.length, 2);
  assert.match(s.invalid[1] ?? "", /YAML/);
  writeFileSync(s.path, base(["fabrikam.com"]));
  s.tick(1000);
  s.tick(1000);
  assert.deepEqual(s.applied.map((c) => c.domains.map((d) => d.xmpp)), [["fabrikam.com"]]);
});

test("a missing file (a symlink being swapped) is looked at again later; a huge one is refused", (t) => {
  const s = setup();
  t.after(() => rmSync(s.dir, { recursive: true }));
  rmSync(s.path);
  s.tick(1000);
  assert.equal(s.invalid.length + s.applied.length, 0);
  writeFileSync(s.path, `${base(["contoso.com"])}#${"x".repeat(2 * 1024 * 1024)}\n`);
  s.tick(1000);
  s.tick(1000);
  assert.equal(s.invalid.length, 1);
  assert.match(s.invalid[0] ?? "", /larger than/);
  assert.equal(s.applied.length, 0);
});
