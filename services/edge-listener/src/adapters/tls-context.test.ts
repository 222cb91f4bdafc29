// The edge's certificate store: days to expiry as a gauge and a warning below 30 days, set on
// every load (the first one and each reload), with certificates from a real openssl test CA.
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Registry, type Logger } from "@passerelle/telemetry";
import { createTestCa, type CertificateFiles, type TestCa } from "@passerelle/testkit";
import { TlsContextStore } from "./tls-context.ts";

interface Line {
  level: "info" | "warn" | "error";
  fields: Record<string, unknown>;
  msg: string;
}

function recordingLogger(lines: Line[]): Logger {
  const at = (level: Line["level"]) => (fields: Record<string, unknown>, msg: string) => lines.push({ level, fields, msg });
  return { info: at("info"), warn: at("warn"), error: at("error"), debug: () => undefined } as unknown as Logger;
}

async function gauge(registry: Registry, name: string): Promise<number | undefined> {
  const metric = await registry.getSingleMetric(name)?.get();
  return metric?.values[0]?.value;
}

describe("TlsContextStore: days to expiry", () => {
  let dir: string;
  let ca: TestCa;
  let longLived: CertificateFiles;
  let shortLived: CertificateFiles;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "tls-context-"));
    ca = await createTestCa(join(dir, "ca"));
    longLived = await ca.issue({ domains: ["gateway.test"], name: "long", validDays: 90 });
    shortLived = await ca.issue({ domains: ["gateway.test"], name: "short", validDays: 10 });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("sets passerelle_edge_certificate_expiry_days at start; no warning with 90 days left", async () => {
    const lines: Line[] = [];
    const registry = new Registry();
    const store = new TlsContextStore({ certFile: longLived.certFile, keyFile: longLived.keyFile }, recordingLogger(lines), registry);
    assert.ok(store.context);
    const days = await gauge(registry, "passerelle_edge_certificate_expiry_days");
    assert.ok(days === 89 || days === 90, `days: ${String(days)}`);
    assert.deepEqual(lines.filter((l) => l.level !== "info"), []);
  });

  it("warns below 30 days and updates the gauge on every reload", async () => {
    const lines: Line[] = [];
    const registry = new Registry();
    const certFile = join(dir, "edge.crt");
    const keyFile = join(dir, "edge.key");
    copyFileSync(longLived.certFile, certFile);
    copyFileSync(longLived.keyFile, keyFile);
    const store = new TlsContextStore({ certFile, keyFile }, recordingLogger(lines), registry);

    // The admin assigns a certificate with 10 days left.
    copyFileSync(shortLived.keyFile, keyFile);
    copyFileSync(shortLived.certFile, certFile);
    assert.equal(store.reloadIfChanged(), true);
    const days = await gauge(registry, "passerelle_edge_certificate_expiry_days");
    assert.ok(days === 9 || days === 10, `days: ${String(days)}`);
    const warning = lines.find((l) => l.level === "warn");
    assert.ok(warning, "a warning is logged");
    assert.match(warning.msg, /the edge certificate expires in (9|10) day\(s\)/);
    assert.equal(warning.fields.daysLeft, days);
  });

  it("with the clock past the end date: a negative gauge and an error line", async () => {
    const lines: Line[] = [];
    const registry = new Registry();
    const later = Date.now() + 100 * 86_400_000;
    new TlsContextStore({ certFile: longLived.certFile, keyFile: longLived.keyFile }, recordingLogger(lines), registry, () => later);
    const days = await gauge(registry, "passerelle_edge_certificate_expiry_days");
    assert.ok(days !== undefined && days < 0 && days >= -11, `days: ${String(days)}`);
    assert.ok(lines.some((l) => l.level === "error" && /has expired/.test(l.msg)));
  });

  it("counts down between loads (computed at each scrape) and warns once per day count when polled", async () => {
    const lines: Line[] = [];
    const registry = new Registry();
    let clock = Date.now();
    const store = new TlsContextStore({ certFile: longLived.certFile, keyFile: longLived.keyFile }, recordingLogger(lines), registry, () => clock);
    const start = await gauge(registry, "passerelle_edge_certificate_expiry_days");
    assert.ok(start !== undefined);
    // 70 days later, without any reload: the gauge says 70 fewer days, and a poll warns once.
    clock += 70 * 86_400_000;
    assert.equal(await gauge(registry, "passerelle_edge_certificate_expiry_days"), start - 70);
    assert.equal(lines.filter((l) => l.level === "warn").length, 0);
    store.checkExpiry(false);
    store.checkExpiry(false);
    assert.equal(lines.filter((l) => l.level === "warn").length, 1, "once per day count");
    clock += 86_400_000;
    store.checkExpiry(false);
    const warnings = lines.filter((l) => l.level === "warn");
    assert.equal(warnings.length, 2);
    assert.equal(warnings[1]?.fields.daysLeft, start - 71);
  });

  it("a refused replacement keeps the previous certificate and its gauge", async () => {
    const lines: Line[] = [];
    const registry = new Registry();
    const certFile = join(dir, "edge2.crt");
    const keyFile = join(dir, "edge2.key");
    copyFileSync(longLived.certFile, certFile);
    copyFileSync(longLived.keyFile, keyFile);
    const store = new TlsContextStore({ certFile, keyFile }, recordingLogger(lines), registry);
    const before = await gauge(registry, "passerelle_edge_certificate_expiry_days");
    // A short-lived certificate with the wrong key: refused.
    copyFileSync(shortLived.certFile, certFile);
    assert.equal(store.reloadIfChanged(), false);
    assert.equal(await gauge(registry, "passerelle_edge_certificate_expiry_days"), before);
    assert.ok(lines.some((l) => l.level === "error" && /new certificate refused/.test(l.msg)));
  });
});
