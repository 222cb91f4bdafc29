// Certificate rotation, end to end: Alice on a real Prosody (certificate, SASL EXTERNAL over TLS)
// holds an s2s connection to the gateway and writes to Juliet, whose SIP user agent (sipp) is
// registered at a real Kamailio. The admin runs `passerelle cert import` (a child process, as a
// person would) with a new certificate from the CA: the open connection keeps delivering, and a
// new TLS connection to the edge (STARTTLS, then the handshake) is served the new
// certificate — no restart.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { loadConfigFile } from "@passerelle/config";
import { createScope, repoRoot, runCommand, sweepStaleNetns, type SipUas, type XmppClient } from "@passerelle/testkit";
import { GATEWAY_ADDRESS, GATEWAY_DOMAIN, connectSceneClient, startScene, startSceneUas, waitForLogLine, type Scene } from "./lib/gateway-scenario.ts";

const alice = { username: "alice", password: "alice-pw" };
const juliet = `juliet@${GATEWAY_DOMAIN}`;

describe("certificate rotation with `passerelle cert import` while Prosody holds an s2s connection", { timeout: 120_000 }, () => {
  const scope = createScope("cert-rotation");
  let scene: Scene;
  let julietUa: SipUas;
  let client: XmppClient;

  before(async () => {
    sweepStaleNetns();
    scene = await startScene(scope, [
      { kind: "prosody", domain: "prosody.test", address: "127.0.0.2", mode: "certificate", users: [alice], partner: { type: "federated", tls: "required", sasl: "optional", dialback: true } },
    ]);
    julietUa = await startSceneUas(scope, scene, "juliet");
    client = await connectSceneClient(scope, scene, "prosody.test", alice);
  });

  after(() => scope.close());

  /**
   * The certificate a new connection to the edge is served: a stream header (from a partner
   * domain, as the edge wants one before STARTTLS), STARTTLS (RFC 6120 §5.4), then the TLS
   * handshake — run by node inside the namespace, bounded by a timer.
   */
  async function servedCertificate(): Promise<X509Certificate> {
    const script = `
      const net = require("node:net"), tls = require("node:tls");
      const timer = setTimeout(() => { console.error("timeout"); process.exit(2); }, 10000);
      const raw = net.connect(5269, ${JSON.stringify(GATEWAY_ADDRESS)});
      let seen = "";
      raw.on("error", (e) => { console.error(String(e)); process.exit(3); });
      raw.on("connect", () => raw.write("<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='prosody.test' to='${GATEWAY_DOMAIN}' version='1.0'>"));
      const onData = (chunk) => {
        seen += chunk.toString("utf8");
        if (/<starttls[^>]*urn:ietf:params:xml:ns:xmpp-tls/.test(seen) && !seen.includes("<proceed")) {
          if (!raw.starttlsSent) { raw.starttlsSent = true; raw.write("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"); }
        }
        if (seen.includes("<proceed")) {
          raw.removeListener("data", onData);
          const secure = tls.connect({ socket: raw, servername: ${JSON.stringify(GATEWAY_DOMAIN)}, rejectUnauthorized: false }, () => {
            console.log(secure.getPeerCertificate().raw.toString("base64"));
            clearTimeout(timer);
            secure.destroy();
          });
          secure.on("error", (e) => { console.error(String(e)); process.exit(4); });
        }
      };
      raw.on("data", onData);`;
    const result = await scene.netns.exec(process.execPath, ["-e", script], { timeoutMs: 15_000, allowFailure: true });
    assert.equal(result.code, 0, `the TLS probe failed: ${result.stderr}`);
    return new X509Certificate(Buffer.from(result.stdout.trim(), "base64"));
  }

  /** The edge's passerelle_edge_certificate_expiry_days, scraped from /metrics inside the namespace. */
  async function expiryDays(): Promise<number> {
    const edge = scene.gateway.services.find((s) => s.name === "edge-listener");
    assert.ok(edge);
    const script = `fetch(${JSON.stringify(`${edge.httpUrl}/metrics`)}, { signal: AbortSignal.timeout(5000) }).then((r) => r.text()).then((t) => console.log(t), (e) => { console.error(String(e)); process.exit(1); })`;
    const result = await scene.netns.exec(process.execPath, ["-e", script], { timeoutMs: 10_000, allowFailure: true });
    const value = /^passerelle_edge_certificate_expiry_days(?:\{[^}]*\})? (-?\d+)$/m.exec(result.stdout)?.[1];
    assert.ok(value !== undefined, `no expiry gauge in /metrics: ${result.stderr}`);
    return Number(value);
  }

  const authenticatedFromProsody = (): number =>
    scene.logOf("edge-listener").filter((l) => l.msg === "inbound stream authenticated" && l.partner === "prosody.test").length;

  it("rotates: the open connection keeps delivering, new connections get the new certificate", async () => {
    // Alice writes to Juliet: Prosody opens its s2s connection to the gateway, the phone shows it.
    await client.send(juliet, "Before the rotation");
    await julietUa.waitForMessage("Before the rotation", 30_000);
    assert.equal(authenticatedFromProsody(), 1);

    const config = loadConfigFile(scene.gateway.configFile);
    assert.ok(config.edge.tls);
    const before = await servedCertificate();
    assert.equal(before.fingerprint256, new X509Certificate(readFileSync(config.edge.tls.certFile)).fingerprint256);
    // The scene's certificate is good for 30 days: 29 whole days left.
    assert.equal(await expiryDays(), 29);
    assert.ok(scene.logOf("edge-listener").some((l) => l.level === "warn" && String(l.msg).startsWith("the edge certificate expires in 29 day(s)")), "a warning below 30 days");

    // The admin gets a new certificate from the CA and assigns it.
    const fresh = await scene.ca.issue({ domains: [GATEWAY_DOMAIN], srvId: true, name: "rotated", validDays: 90 });
    const freshCert = new X509Certificate(readFileSync(fresh.certFile));
    assert.notEqual(freshCert.serialNumber, before.serialNumber);
    const cli = await runCommand(
      process.execPath,
      ["--import", "tsx", join(repoRoot, "packages/cli/src/main.ts"), "cert", "import", "--config", scene.gateway.configFile, "--cert", fresh.chainFile, "--key", fresh.keyFile, "--ca", scene.ca.certFile],
      { cwd: repoRoot, timeoutMs: 30_000, allowFailure: true },
    );
    assert.equal(cli.code, 0, `passerelle cert import failed: ${cli.stderr}`);
    assert.match(cli.stdout, new RegExp(`serial ${freshCert.serialNumber}`));

    // The edge notices the new files (polled) and builds a new context without a restart.
    await waitForLogLine(scene, "edge-listener", (l) => l.msg === "certificate reloaded; new connections use it", 20_000);

    // The open s2s connection is untouched: Alice's next message arrives over it.
    await client.send(juliet, "After the rotation");
    await julietUa.waitForMessage("After the rotation", 30_000);
    assert.equal(authenticatedFromProsody(), 1, "Prosody did not have to reconnect");

    // A new connection is served the new certificate.
    const after = await servedCertificate();
    assert.equal(after.serialNumber, freshCert.serialNumber);
    assert.equal(after.fingerprint256, freshCert.fingerprint256);
    // Days to expiry follows the served certificate.
    assert.equal(await expiryDays(), 89);
  });
});
