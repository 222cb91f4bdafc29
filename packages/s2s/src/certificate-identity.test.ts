import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { certificateMatchesDomain, describeCertificateIdentities, presentedIdentifiers } from "./certificate-identity.ts";

let dir = "";
let counter = 0;

/** A self-signed certificate made by the openssl CLI with the given subject and subjectAltName entries. */
function makeCert(subject: string, subjectAltNames: string[] = []): X509Certificate {
  const base = join(dir, `c${++counter}`);
  const counts = new Map<string, number>();
  const alt = subjectAltNames.map((entry) => {
    const type = entry.slice(0, entry.indexOf(":"));
    const n = (counts.get(type) ?? 0) + 1;
    counts.set(type, n);
    return `${type}.${n} = ${entry.slice(type.length + 1)}`;
  });
  const extensions = alt.length === 0 ? "basicConstraints = CA:FALSE" : `subjectAltName = @alt\n[alt]\n${alt.join("\n")}`;
  writeFileSync(`${base}.cnf`, `[req]\ndistinguished_name = dn\n[dn]\n[ext]\n${extensions}\n`);
  const args = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${base}.key`, "-out", `${base}.crt`, "-days", "2", "-subj", subject, "-config", `${base}.cnf`, "-extensions", "ext"];
  execFileSync("openssl", args, { stdio: "ignore", timeout: 20_000 });
  return new X509Certificate(readFileSync(`${base}.crt`));
}

const XMPP_ADDR = "otherName:1.3.6.1.5.5.7.8.5;FORMAT:UTF8,UTF8";
const SRV_NAME = "otherName:1.3.6.1.5.5.7.8.7;IA5STRING";

before(() => {
  dir = mkdtempSync(join(tmpdir(), "s2s-cert-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test("a DNS-ID matches its domain, case-insensitively, and nothing else", () => {
  const cert = makeCert("/CN=unrelated.example", ["DNS:Partner.Example"]);
  assert.equal(certificateMatchesDomain(cert, "partner.example"), true);
  assert.equal(certificateMatchesDomain(cert, "PARTNER.example."), true);
  assert.equal(certificateMatchesDomain(cert, "other.example"), false);
  assert.equal(certificateMatchesDomain(cert, "sub.partner.example"), false);
  assert.equal(certificateMatchesDomain(cert, "unrelated.example"), false, "the CN is never used");
});

test("no CN fallback: a certificate without subjectAltName matches nothing", () => {
  const cert = makeCert("/CN=partner.example");
  assert.deepEqual(presentedIdentifiers(cert.raw), { dnsNames: [], srvNames: [], xmppAddrs: [] });
  assert.equal(certificateMatchesDomain(cert, "partner.example"), false);
});

test("an SRV-ID _xmpp-server.<domain> matches; other services do not", () => {
  const cert = makeCert("/CN=x", [`${SRV_NAME}:_xmpp-server.srv.example`, `${SRV_NAME}:_xmpp-client.client.example`]);
  assert.equal(certificateMatchesDomain(cert, "srv.example"), true);
  assert.equal(certificateMatchesDomain(cert, "client.example"), false);
});

test("an xmppAddr matches, including one written with U-labels", () => {
  const cert = makeCert("/CN=x", [`${XMPP_ADDR}:addr.example`, `${XMPP_ADDR}:bücher.example`, `${XMPP_ADDR}:user@jid.example`]);
  assert.equal(certificateMatchesDomain(cert, "addr.example"), true);
  assert.equal(certificateMatchesDomain(cert, "xn--bcher-kva.example"), true);
  assert.equal(certificateMatchesDomain(cert, "bücher.example"), true);
  assert.equal(certificateMatchesDomain(cert, "jid.example"), false, "a full JID is not a domain identity");
});

test("a wildcard DNS-ID matches exactly one left-most label", () => {
  const cert = makeCert("/CN=x", ["DNS:*.wild.example", "DNS:*.com", "DNS:f*o.partial.example"]);
  assert.equal(certificateMatchesDomain(cert, "a.wild.example"), true);
  assert.equal(certificateMatchesDomain(cert, "wild.example"), false);
  assert.equal(certificateMatchesDomain(cert, "a.b.wild.example"), false);
  assert.equal(certificateMatchesDomain(cert, "anything.com"), false, "*.com is refused");
  assert.equal(certificateMatchesDomain(cert, "foo.partial.example"), false, "partial wildcards are refused");
});

test("the testkit-style certificate with every XMPP identifier is read whole", () => {
  const cert = makeCert("/CN=gw.example", ["DNS:gw.example", `${XMPP_ADDR}:gw.example`, `${SRV_NAME}:_xmpp-server.gw.example`, "IP:127.0.0.1", "email:a@b.example"]);
  assert.deepEqual(presentedIdentifiers(cert.raw), { dnsNames: ["gw.example"], srvNames: ["_xmpp-server.gw.example"], xmppAddrs: ["gw.example"] });
  assert.match(describeCertificateIdentities(cert), /DNS:gw\.example/);
});

test("garbage and truncated DER never match and never throw from certificateMatchesDomain", () => {
  const cert = makeCert("/CN=x", ["DNS:ok.example"]);
  const raw = Buffer.from(cert.raw);
  for (const bytes of [Buffer.alloc(0), Buffer.from([0x30]), Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), raw.subarray(0, raw.length - 40)]) {
    assert.equal(certificateMatchesDomain({ raw: bytes } as unknown as X509Certificate, "ok.example"), false);
  }
  assert.equal(certificateMatchesDomain(cert, ""), false);
  assert.equal(certificateMatchesDomain(cert, "*.example"), false);
});
