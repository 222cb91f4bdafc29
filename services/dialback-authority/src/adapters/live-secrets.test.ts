import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { createScope, createTestCa } from "@passerelle/testkit";
import { makeKey, verifyKey } from "../domain/dialback.ts";
import { DialbackSecrets, TlsMaterialSource } from "./live-secrets.ts";

const dir = mkdtempSync(join(tmpdir(), "dialback-secrets-"));
/** Replaces a file the way Kubernetes updates a mounted Secret: write aside, rename over. */
const replace = (path: string, text: string | Buffer) => {
  writeFileSync(`${path}.next`, text);
  renameSync(`${path}.next`, path);
};
const stream = { v: 1 as const, receiving: "partner.test", originating: "gateway.test", streamId: "s-1" };
const ours = new Set(["gateway.test"]);
const valid = (secrets: DialbackSecrets, key: string) =>
  secrets.verifying().some((secret) => verifyKey(secret, { ...stream, key }, ours).valid);

describe("dialback secret rotation", () => {
  it("a rotated secret file makes new keys; keys of the old secret verify during the grace only", () => {
    const file = join(dir, "secret");
    writeFileSync(file, "old-secret-0123456789\n");
    let now = 1_000_000;
    const secrets = new DialbackSecrets("old-secret-0123456789", file, 60_000, () => now);
    const oldKey = makeKey(secrets.current(), stream);
    assert.deepEqual(secrets.reloadIfChanged(), { outcome: "unchanged" });

    replace(file, "new-secret-0123456789abc\n");
    assert.deepEqual(secrets.reloadIfChanged(), { outcome: "reloaded" });
    const newKey = makeKey(secrets.current(), stream);
    assert.notEqual(newKey, oldKey);
    assert.equal(valid(secrets, newKey), true);
    assert.equal(valid(secrets, oldKey), true, "the previous secret still verifies during the grace");
    now += 60_001;
    assert.equal(valid(secrets, oldKey), false, "and no longer after it");
    assert.equal(valid(secrets, newKey), true);
  });

  it("an unreadable or too short secret keeps the one in force, reported once per change", () => {
    const file = join(dir, "secret-bad");
    writeFileSync(file, "good-secret-0123456789\n");
    const secrets = new DialbackSecrets("good-secret-0123456789", file, 60_000);
    replace(file, "short\n");
    const r = secrets.reloadIfChanged();
    assert.equal(r.outcome, "failed");
    assert.match((r as { reason: string }).reason, /at least 16 characters/);
    assert.equal(secrets.current(), "good-secret-0123456789");
    assert.deepEqual(secrets.reloadIfChanged(), { outcome: "unchanged" });
  });

  it("an inline secret (no file) never changes", () => {
    const secrets = new DialbackSecrets("inline-secret-0123456789", undefined, 60_000);
    assert.deepEqual(secrets.reloadIfChanged(), { outcome: "unchanged" });
    assert.deepEqual(secrets.verifying(), ["inline-secret-0123456789"]);
  });
});

describe("certificate of the verification streams", () => {
  const scope = createScope("dialback-live-tls");
  after(() => scope.close());

  it("a new certificate and key are applied; a key that does not match the certificate is refused", async () => {
    const ca = await createTestCa(scope.dir("ca"));
    const first = await ca.issue({ name: "first", domains: ["gateway.test"] });
    const second = await ca.issue({ name: "second", domains: ["gateway.test"] });
    const certFile = join(dir, "tls.crt");
    const keyFile = join(dir, "tls.key");
    writeFileSync(certFile, readFileSync(first.certFile));
    writeFileSync(keyFile, readFileSync(first.keyFile));
    const source = new TlsMaterialSource({ certFile, keyFile });
    assert.deepEqual(source.current().cert, readFileSync(first.certFile));

    replace(certFile, readFileSync(second.certFile));
    replace(keyFile, readFileSync(second.keyFile));
    assert.deepEqual(source.reloadIfChanged(), { outcome: "reloaded" });
    assert.deepEqual(source.current().cert, readFileSync(second.certFile));

    // Caught between the two renames of a rotation: the first certificate with the second key.
    replace(certFile, readFileSync(first.certFile));
    const r = source.reloadIfChanged();
    assert.equal(r.outcome, "failed");
    assert.deepEqual(source.current().cert, readFileSync(second.certFile), "the pair in force is kept");
    replace(keyFile, readFileSync(first.keyFile));
    assert.deepEqual(source.reloadIfChanged(), { outcome: "reloaded" });
    assert.deepEqual(source.current().cert, readFileSync(first.certFile));
  });
});
