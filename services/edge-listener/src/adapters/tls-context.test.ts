// The edge's certificate store: days to expiry as a gauge and a warning below 30 days, set on
// every load (the first one and each reload), with certificates from a real openssl test CA.
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { connect as tlsConnect, TLSSocket } from "node:tls";
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

describe("TlsContextStore: the TLS context", () => {
  let dir: string;
  let ca: TestCa;
  let cert: CertificateFiles;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "tls-context-"));
    ca = await createTestCa(join(dir, "ca"));
    cert = await ca.issue({ domains: ["gateway.test"], name: "gw" });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("issues no self-contained TLS session tickets (each would keep a copy of the session for the connection's life)", async () => {
    const store = new TlsContextStore({ certFile: cert.certFile, keyFile: cert.keyFile, caFile: ca.certFile }, recordingLogger([]), new Registry());
    // As the edge does after <proceed/>: a server-side TLSSocket around the accepted TCP socket.
    const server = createNetServer((raw) => {
      const secure = new TLSSocket(raw, { isServer: true, secureContext: store.context });
      secure.on("error", () => undefined);
      secure.once("secure", () => secure.end("hello"));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    const port = (server.address() as AddressInfo).port;
    try {
      for (const version of ["TLSv1.3", "TLSv1.2"] as const) {
        let sessions = 0;
        const { data, ticket } = await new Promise<{ data: string; ticket: Buffer | undefined }>((resolve, reject) => {
          const client = tlsConnect({ host: "127.0.0.1", port, ca: readFileSync(ca.certFile), servername: "gateway.test", minVersion: version, maxVersion: version });
          let text = "";
          // TLS 1.3: one 'session' event per NewSessionTicket; TLS 1.2: the ticket is in the session.
          client.on("session", () => sessions++);
          client.on("data", (chunk: Buffer) => (text += chunk.toString()));
          client.on("end", () => resolve({ data: text, ticket: client.getTLSTicket() }));
          client.on("error", reject);
        });
        assert.equal(data, "hello", `${version}: the handshake worked`);
        // TLS 1.2: no ticket at all. TLS 1.3: OpenSSL still sends a stateful ticket, a bare
        // session id (the session is not kept: no internal cache), never an encrypted copy of
        // the session (hundreds of bytes).
        if (version === "TLSv1.2") assert.equal(ticket, undefined, "TLS 1.2: no session ticket");
        else assert.ok(ticket === undefined || ticket.length <= 64, `TLS 1.3: a ${ticket?.length}-byte ticket (${sessions} NewSessionTicket); expected none or a stateful one (a bare session id)`);
      }
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      store.stop();
    }
  });
});
