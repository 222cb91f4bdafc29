// XEP-0368 direct TLS, end to end: a real Prosody 0.12 finds our `_xmpps-server._tcp` SRV record
// (it tries it before `_xmpp-server`, mod_s2s), opens TLS on connect to the edge's direct-TLS port,
// authenticates with SASL EXTERNAL, and Alice's message reaches Juliet's SIP user agent (sipp).
// Then the hostile basics on that port: plain XML bytes to the TLS port are refused, logged and
// counted, and the edge keeps serving. Last, the dns-registrar alone against a real bind9 (dynamic
// zone, TSIG): `_xmpps-server._tcp` published with edge.directTls, removed when it is taken out.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import type { RawConfig } from "@passerelle/config";
import { startGateway } from "@passerelle/launcher";
import {
  createNetns,
  createScope,
  createSelfSigned,
  sleep,
  startBind9,
  startNats,
  startRedis,
  sweepStaleNetns,
  xmppServerRecords,
  type SipUas,
  type XmppClient,
} from "@passerelle/testkit";
import { GATEWAY_ADDRESS, GATEWAY_DOMAIN, connectSceneClient, startScene, startSceneUas, waitForLogLine, type Scene } from "./lib/gateway-scenario.ts";

const DIRECT_TLS_PORT = 5270;
const alice = { username: "alice", password: "alice-pw" };
const juliet = `juliet@${GATEWAY_DOMAIN}`;

describe("XEP-0368 direct TLS: Prosody → edge on 5270, TLS from the first byte", { timeout: 120_000 }, () => {
  const scope = createScope("direct-tls");
  let scene: Scene;
  let julietUa: SipUas;
  let aliceClient: XmppClient;

  before(async () => {
    sweepStaleNetns();
    scene = await startScene(
      scope,
      [{ kind: "prosody", domain: "prosody.test", address: "127.0.0.2", mode: "certificate", users: [alice], partner: { type: "federated", tls: "required", sasl: "required", dialback: false } }],
      {},
      {
        directTlsPort: DIRECT_TLS_PORT,
        // Our domain: `_xmpps-server._tcp` → 5270 (direct TLS), `_xmpp-server._tcp` → 5269 as usual.
        gatewayRecords: [
          ...xmppServerRecords(GATEWAY_DOMAIN, GATEWAY_ADDRESS, { srvOnly: true }),
          { type: "SRV", name: `_xmpps-server._tcp.${GATEWAY_DOMAIN}`, target: `s2s.${GATEWAY_DOMAIN}`, port: DIRECT_TLS_PORT, priority: 0, weight: 5 },
        ],
      },
    );
    julietUa = await startSceneUas(scope, scene, "juliet");
    aliceClient = await connectSceneClient(scope, scene, "prosody.test", alice);
  });

  after(() => scope.close());

  it("Alice (Prosody) writes to Juliet: the stream comes over direct TLS with SASL EXTERNAL; Juliet's phone shows it", async () => {
    await aliceClient.send(juliet, "Hello Juliet, over direct TLS");
    const message = await julietUa.waitForMessage("Hello Juliet, over direct TLS", 30_000);
    assert.match(message.headers.get("from") ?? "", /alice@prosody\.test/);
    // The edge saw the stream on its direct-TLS listener, authenticated by certificate.
    const line = await waitForLogLine(scene, "edge-listener", (l) => l.msg === "inbound stream authenticated" && l.partner === "prosody.test");
    assert.equal(line.listener, "direct-tls");
    assert.equal(line.method, "sasl-external");
    // No STARTTLS on that path: nothing was upgraded on the plain port.
    const tlsLines = scene.logOf("edge-listener").filter((l) => l.msg === "inbound TLS established");
    assert.ok(tlsLines.length > 0 && tlsLines.every((l) => l.listener === "direct-tls"), JSON.stringify(tlsLines));
  });

  it("plain XML bytes to the TLS port: the handshake fails, logged and counted; the edge keeps serving", async () => {
    // A peer that speaks plaintext XMPP to 5270 (as if it were 5269).
    const script = `const s=require("node:net").connect(${DIRECT_TLS_PORT},${JSON.stringify(GATEWAY_ADDRESS)},()=>s.write("<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' to='${GATEWAY_DOMAIN}' from='prosody.test' version='1.0'>"));let got="";s.on("data",d=>got+=d.toString("latin1"));s.on("error",()=>{});s.on("close",()=>{console.log(JSON.stringify({closed:true,plaintextAnswer:got.includes("<stream")}));process.exit(0)});setTimeout(()=>{console.log(JSON.stringify({closed:false}));process.exit(0)},10000);`;
    const result = await scene.netns.exec(process.execPath, ["-e", script], { timeoutMs: 15_000, allowFailure: true });
    assert.deepEqual(JSON.parse(result.stdout.trim()), { closed: true, plaintextAnswer: false });
    const failed = await waitForLogLine(scene, "edge-listener", (l) => l.msg === "TLS handshake or session failed" && l.listener === "direct-tls");
    assert.match(String(failed.err), /wrong version number|unknown protocol|http request|packet length/i);
    const edge = scene.gateway.services.find((s) => s.name === "edge-listener");
    assert.ok(edge);
    const metrics = await scene.netns.exec(process.execPath, ["-e", `fetch(${JSON.stringify(edge.httpUrl + "/metrics")}).then(r=>r.text()).then(t=>console.log(t))`], { timeoutMs: 10_000 });
    assert.match(metrics.stdout, /passerelle_edge_stream_errors_total\{condition="tls-failed"[^}]*\} [1-9]/);
    assert.match(metrics.stdout, /passerelle_edge_connections_accepted_total\{listener="direct-tls"[^}]*\} [1-9]/);
    // Still serving: Alice's next message arrives.
    await aliceClient.send(juliet, "Still there?");
    await julietUa.waitForMessage("Still there?", 30_000);
  });
});

describe("dns-registrar: _xmpps-server._tcp follows edge.directTls (real bind9, signed dynamic update)", { timeout: 60_000 }, () => {
  const scope = createScope("direct-tls-dns");
  after(() => scope.close());

  it("published → edge FQDN and 5270 beside _xmpp-server; removed when edge.directTls is taken out, _xmpp-server stays", async () => {
    sweepStaleNetns();
    const dnsAddress = "127.0.0.53";
    const edge = "edge.gateway.test";
    const netns = await createNetns(scope, { addresses: [dnsAddress, GATEWAY_ADDRESS], nameserver: dnsAddress, label: "dtlsdns" });
    const dns = await startBind9(scope, { netns, address: dnsAddress, zones: [{ domain: GATEWAY_DOMAIN, dynamic: true, records: [{ type: "A", name: edge, address: GATEWAY_ADDRESS }] }] });
    assert.ok(dns.tsig);
    const [nats, redis] = await Promise.all([startNats(scope, { netns, host: "127.0.0.1" }), startRedis(scope, { netns, host: "127.0.0.1" })]);
    const cert = await createSelfSigned(scope.dir("pki"), [GATEWAY_DOMAIN]);
    const config: RawConfig = {
      domains: [{ xmpp: GATEWAY_DOMAIN }],
      gateway: { edgeFqdn: edge, dialback: { secret: "e2e-dialback-secret-0123456789" } },
      edge: { listen: { host: GATEWAY_ADDRESS, port: 5269 }, tls: { certFile: cert.certFile, keyFile: cert.keyFile }, directTls: { port: DIRECT_TLS_PORT } },
      nats: { url: nats.url },
      redis: { url: redis.url },
      dns: { server: `${dnsAddress}:53`, publish: { server: `${dnsAddress}:53`, tsig: { name: dns.tsig.name, secretFile: dns.tsig.file } } },
      sip: { proxy: { host: "127.0.0.4" } },
      services: { dnsRegistrar: { http: { host: "127.0.0.1", port: 9106 } } },
    };
    const gateway = await startGateway(scope, { config, netns, replicas: { "dns-registrar": 1 }, env: { LOG_LEVEL: "debug" } });
    const registrar = gateway.services.find((x) => x.name === "dns-registrar");
    assert.ok(registrar);
    const lines = (): Record<string, unknown>[] =>
      readFileSync(registrar.process.logFile, "utf8")
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    const waitFor = async (test: (l: Record<string, unknown>) => boolean): Promise<void> => {
      for (let i = 0; i < 150; i++) {
        if (lines().some(test)) return;
        await sleep(100);
      }
      throw new Error(`no such dns-registrar line; last:\n${lines().slice(-5).map((l) => JSON.stringify(l)).join("\n")}`);
    };
    await waitFor((l) => l.msg === "published SRV records updated" && l.name === `_xmpps-server._tcp.${GATEWAY_DOMAIN}`);
    assert.equal(await dns.dig("SRV", `_xmpps-server._tcp.${GATEWAY_DOMAIN}`), `0 5 ${DIRECT_TLS_PORT} ${edge}.`);
    assert.equal(await dns.dig("SRV", `_xmpp-server._tcp.${GATEWAY_DOMAIN}`), `0 5 5269 ${edge}.`);

    // The operator takes edge.directTls out of the file: only that record goes.
    const { directTls: _dropped, ...edgeWithout } = config.edge ?? {};
    writeFileSync(gateway.configFile, JSON.stringify({ ...config, edge: edgeWithout }, null, 2));
    await waitFor((l) => l.msg === "published SRV records removed" && l.name === `_xmpps-server._tcp.${GATEWAY_DOMAIN}`);
    assert.equal(await dns.dig("SRV", `_xmpps-server._tcp.${GATEWAY_DOMAIN}`), "");
    assert.equal(await dns.dig("SRV", `_xmpp-server._tcp.${GATEWAY_DOMAIN}`), `0 5 5269 ${edge}.`);
  });
});
