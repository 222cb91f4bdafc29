import assert from "node:assert/strict";
import { mkdtempSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { AdminAuth } from "./adapters/admin-auth.ts";
import { AdminTokenSource, readAdminTokens } from "./environment.ts";

const dir = mkdtempSync(join(tmpdir(), "policy-env-"));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

test("PASSERELLE_ADMIN_TOKEN is the actor admin; the tokens file adds named actors", () => {
  const tokens = readAdminTokens({
    PASSERELLE_ADMIN_TOKEN: " admin-token-0123456789 ",
    PASSERELLE_ADMIN_TOKENS_FILE: file("tokens", "# ops team\nalice:alice-token-0123456789\n\nci-bot: ci-token-0123456789abc\n"),
  });
  assert.deepEqual(tokens, [
    { name: "admin", token: "admin-token-0123456789" },
    { name: "alice", token: "alice-token-0123456789" },
    { name: "ci-bot", token: "ci-token-0123456789abc" },
  ]);
});

test("no token anywhere: an empty list (the admin API answers 503)", () => {
  assert.deepEqual(readAdminTokens({ PASSERELLE_ADMIN_TOKEN: "  " }), []);
});

test("a malformed line or a short token is refused, naming where", () => {
  assert.throws(() => readAdminTokens({ PASSERELLE_ADMIN_TOKENS_FILE: file("bad", "alice-without-colon\n") }), /PASSERELLE_ADMIN_TOKENS_FILE line 1: expected name:token/);
  assert.throws(() => readAdminTokens({ PASSERELLE_ADMIN_TOKENS_FILE: file("short", "ok:ok-token-0123456789\nbob:short\n") }), /line 2: an admin token must be at least 16 characters/);
  assert.throws(() => readAdminTokens({ PASSERELLE_ADMIN_TOKEN: "short" }), /PASSERELLE_ADMIN_TOKEN: an admin token must be at least 16/);
  assert.throws(() => readAdminTokens({ PASSERELLE_ADMIN_TOKENS_FILE: file("name", "bad name:token-0123456789abcdef\n") }), /the name must be/);
});

test("a rotated tokens file applies without a restart; a broken one keeps the tokens in force", () => {
  const path = file("rotating", "ops:old-token-0123456789\n");
  const source = new AdminTokenSource({ PASSERELLE_ADMIN_TOKENS_FILE: path });
  const auth = new AdminAuth(source);
  assert.equal(auth.actorFor("Bearer old-token-0123456789"), "ops");
  assert.deepEqual(source.reloadIfChanged(), { outcome: "unchanged" });

  // Rotated the way Kubernetes updates a mounted Secret: a new file renamed over the old one.
  writeFileSync(`${path}.next`, "ops:new-token-0123456789abc\nci:ci-token-0123456789abcd\n");
  renameSync(`${path}.next`, path);
  assert.deepEqual(source.reloadIfChanged(), { outcome: "reloaded", count: 2 });
  assert.equal(auth.actorFor("Bearer new-token-0123456789abc"), "ops");
  assert.equal(auth.actorFor("Bearer ci-token-0123456789abcd"), "ci");
  assert.throws(() => auth.actorFor("Bearer old-token-0123456789"), /not valid/);

  writeFileSync(`${path}.next`, "ops:short\n");
  renameSync(`${path}.next`, path);
  const failed = source.reloadIfChanged();
  assert.equal(failed.outcome, "failed");
  assert.match((failed as { reason: string }).reason, /at least 16 characters/);
  // Still the last good tokens, and the broken file is reported once, not at every poll.
  assert.equal(auth.actorFor("Bearer new-token-0123456789abc"), "ops");
  assert.deepEqual(source.reloadIfChanged(), { outcome: "unchanged" });
});

test("a token file that cannot be read at start stops the service (the constructor throws)", () => {
  assert.throws(() => new AdminTokenSource({ PASSERELLE_ADMIN_TOKENS_FILE: join(dir, "absent") }), /ENOENT/);
});
