import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, configPathFrom, loadConfigFile, validateConfig } from "./load.ts";
import { PartnerDirectory } from "./partners.ts";

const minimal = {
  domains: [{ xmpp: "gateway.test" }],
  gateway: { edgeFqdn: "edge.gateway.test", dialback: { secret: "0123456789abcdef0123" } },
  edge: {},
  nats: {},
  redis: {},
  sip: { proxy: { host: "127.0.0.4" } },
};

function problemsOf(document: unknown): string[] {
  try {
    validateConfig(document);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  assert.fail("expected a ConfigError");
}

test("a minimal configuration gets Lync's defaults", () => {
  const c = validateConfig(minimal);
  assert.deepEqual(c.domains, [{ xmpp: "gateway.test", sip: "gateway.test" }]);
  assert.equal(c.gateway.limits.connectionLimit, 1000);
  assert.equal(c.gateway.timeouts.keepaliveInterval, 300);
  assert.equal(c.gateway.timeouts.streamEstablishment, 60);
  assert.equal(c.gateway.timeouts.streamInactivity, 600);
  assert.equal(c.gateway.timeouts.subscriptionRefresh, 28800);
  assert.equal(c.gateway.logMessageBodies, false);
  assert.equal(c.edge.listen.port, 5269);
  assert.equal(c.dialbackSecret, "0123456789abcdef0123");
});

test("partner defaults: TLS required, SASL optional, dialback on, 20 connections", () => {
  const c = validateConfig({ ...minimal, partners: [{ domain: "Partner.Test", type: "federated" }] });
  const p = c.partners[0];
  assert.ok(p);
  assert.equal(p.domain, "partner.test");
  assert.equal(p.tls, "required");
  assert.equal(p.sasl, "optional");
  assert.equal(p.dialback, true);
  assert.equal(p.connectionLimit, 20);
  assert.deepEqual(p.negotiation.methods, ["sasl-over-tls", "dialback-over-tls"]);
});

test("every problem is reported at once", () => {
  const problems = problemsOf({
    ...minimal,
    gateway: { edgeFqdn: "not a domain!", dialback: {} },
    partners: [
      { domain: "a.test", type: "federated", tls: "not-supported", sasl: "not-supported", dialback: false },
      { domain: "b.test", type: "friends" },
    ],
  });
  assert.ok(problems.some((p) => p.startsWith("gateway.edgeFqdn")), problems.join("\n"));
  assert.ok(problems.some((p) => p.startsWith("gateway.dialback")), problems.join("\n"));
  assert.ok(problems.some((p) => p.startsWith("partners.1.type")), problems.join("\n"));
});

test("an invalid negotiation row is refused naming the row and the reason", () => {
  const problems = problemsOf({
    ...minimal,
    partners: [{ domain: "a.test", type: "federated", tls: "required", sasl: "not-supported", dialback: false }],
  });
  assert.equal(problems.length, 1);
  assert.match(problems[0] ?? "", /a\.test.*TLS Required \/ SASL Not supported \/ dialback false.*no way to authenticate/);
});

test("a warned row is accepted with its warning", () => {
  const c = validateConfig({
    ...minimal,
    partners: [{ domain: "a.test", type: "federated", tls: "required", sasl: "required", dialback: true }],
  });
  assert.ok(c.warnings.some((w) => /dialback will never be used/.test(w)));
});

test("a domain cannot belong to two partners nor be one of ours", () => {
  const problems = problemsOf({
    ...minimal,
    partners: [
      { domain: "a.test", type: "federated", additionalDomains: ["chat.a.test"] },
      { domain: "b.test", type: "federated", additionalDomains: ["chat.a.test", "gateway.test"] },
    ],
  });
  assert.equal(problems.length, 2, problems.join("\n"));
});

test("partner lookup by primary and additional domains, case-insensitive", () => {
  const c = validateConfig({
    ...minimal,
    partners: [{ domain: "a.test", type: "public-unverified", additionalDomains: ["chat.a.test"] }],
  });
  const dir = new PartnerDirectory(c.partners);
  assert.equal(dir.find("CHAT.A.TEST")?.domain, "a.test");
  assert.equal(dir.find("a.test")?.type, "public-unverified");
  assert.equal(dir.find("b.test"), undefined);
});

test("YAML files: a secret file is read; broken YAML and a missing file are clear errors", () => {
  const dir = mkdtempSync(join(tmpdir(), "passerelle-config-"));
  writeFileSync(join(dir, "secret"), "a-secret-of-enough-length\n");
  writeFileSync(
    join(dir, "ok.yaml"),
    `domains: [{ xmpp: gateway.test }]
gateway: { edgeFqdn: edge.gateway.test, dialback: { secretFile: ${join(dir, "secret")} } }
edge: {}
nats: {}
redis: {}
sip: { proxy: { host: 127.0.0.4 } }
`,
  );
  assert.equal(loadConfigFile(join(dir, "ok.yaml")).dialbackSecret, "a-secret-of-enough-length");
  writeFileSync(join(dir, "bad.yaml"), "domains: [\n");
  assert.throws(() => loadConfigFile(join(dir, "bad.yaml")), /not valid YAML/);
  assert.throws(() => loadConfigFile(join(dir, "missing.yaml")), /cannot read the file/);
});

test("the configuration path comes from --config, else PASSERELLE_CONFIG", () => {
  assert.equal(configPathFrom(["--config", "/a.yaml"], {}), "/a.yaml");
  assert.equal(configPathFrom(["--config=/b.yaml"], { PASSERELLE_CONFIG: "/c.yaml" }), "/b.yaml");
  assert.equal(configPathFrom([], { PASSERELLE_CONFIG: "/c.yaml" }), "/c.yaml");
  assert.equal(configPathFrom([], {}), undefined);
});

test("edge.directTls (XEP-0368): port 5270 by default, and refused without a certificate", () => {
  const tls = { certFile: "/etc/passerelle/tls.crt", keyFile: "/etc/passerelle/tls.key" };
  const c = validateConfig({ ...minimal, edge: { tls, directTls: {} } });
  assert.equal(c.edge.directTls?.port, 5270);
  assert.equal(validateConfig(minimal).edge.directTls, undefined, "off unless asked for");
  const problems = problemsOf({ ...minimal, edge: { directTls: { port: 5270 } } });
  assert.ok(problems.some((p) => p.includes("edge.directTls needs a certificate: set edge.tls")), problems.join("\n"));
});
