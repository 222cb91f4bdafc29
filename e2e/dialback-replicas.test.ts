// Dialback across two edge-listener replicas (XEP-0220 §2, issue 3 e2e e): when one replica
// originates a stream to a real Prosody and sends <db:result/>, Prosody dials back to our domain's
// SRV target — which is the OTHER replica — and sends <db:verify/> there; that replica asks the
// dialback authority, answers "valid", and the first replica's stream is authenticated.
//
// How the landing is made certain, not hoped for:
//   - the SRV record of gateway.test points only at replica 1 (s2s.gateway.test:5270);
//   - replica 0 is on the NATS server the SIP translator uses; replica 1 is on a leaf node of it.
//     NATS hands a queue-group message to a subscriber on the publisher's own server when there is
//     one, so every outbound delivery goes to replica 0 (replica 1 subscribes to the same queue
//     group but is never picked) — and the test checks each replica's metrics and logs anyway.
//
// Then the mirror: Prosody's own stream to gateway.test (to replica 1) carries Juliet's message
// to a SIP user; replica 1 authenticated it by asking the authority, which dialled Prosody back.
//
//   juliet@verona.test   Prosody, self-signed (dialback over TLS)   Federated, SASL Not supported
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  connectXmppClient,
  createScope,
  repoRoot,
  sendSipMessage,
  spawnProcess,
  startNats,
  startSipUas,
  sweepStaleNetns,
  type NatsServer,
  type RunningProcess,
  type SipUas,
  type XmppClient,
} from "@passerelle/testkit";
import { GATEWAY_ADDRESS, GATEWAY_DOMAIN, SIP_AGENTS_ADDRESS, SIP_PROXY_ADDRESS, startScene, waitForLogLine, type Scene } from "./lib/gateway-scenario.ts";

const juliet = { username: "juliet", password: "juliet-pw" };
const PARTNER = "verona.test";
const REPLICA1_PORT = 5270;
const REPLICA1_HTTP = 9301;
const VERIFY_SUBJECT = "passerelle.v1.dialback.verify";
const DELIVER_SUBJECT = "passerelle.v1.outbound.deliver";

type LogLine = Record<string, unknown>;

function readLogLines(file: string): LogLine[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => {
      try {
        return JSON.parse(l) as LogLine;
      } catch {
        return {};
      }
    });
}

async function waitForLine(file: string, predicate: (l: LogLine) => boolean, timeoutMs = 15_000): Promise<LogLine> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const found = readLogLines(file).find(predicate);
    if (found !== undefined) return found;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no matching line in ${file} within ${timeoutMs} ms`);
}

/** The sum of `passerelle_bus_messages_total` samples for a subject, direction and outcome. */
function busCount(metricsText: string, subject: string, direction: string, outcome: string): number {
  return metricsText
    .split("\n")
    .filter((l) => l.startsWith("passerelle_bus_messages_total{") && l.includes(`subject="${subject}"`) && l.includes(`direction="${direction}"`) && l.includes(`outcome="${outcome}"`))
    .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
}

describe("dialback with two edge replicas: db:verify lands on the replica that did not send db:result", { timeout: 180_000 }, () => {
  const scope = createScope("dialback-replicas");
  let scene: Scene;
  let leaf: NatsServer;
  let replica1: RunningProcess;
  let julietClient: XmppClient;
  let romeoUa: SipUas;

  const metricsOf = async (httpUrl: string): Promise<string> => {
    const script = `fetch(${JSON.stringify(`${httpUrl}/metrics`)},{signal:AbortSignal.timeout(3000)}).then(r=>r.text()).then(t=>console.log(t),e=>console.log(String(e)))`;
    return (await scene.netns.exec(process.execPath, ["-e", script], { timeoutMs: 8000, allowFailure: true })).stdout;
  };
  const replica0 = () => {
    const s = scene.gateway.services.find((x) => x.name === "edge-listener" && x.replica === 0);
    assert.ok(s);
    return s;
  };

  before(async () => {
    sweepStaleNetns();
    scene = await startScene(
      scope,
      [
        {
          kind: "prosody",
          domain: PARTNER,
          address: "127.0.0.7",
          mode: "dialback-tls",
          users: [juliet],
          partner: { type: "federated", tls: "required", sasl: "not-supported", dialback: true },
        },
      ],
      {},
      {
        // Our SRV record names replica 1 only: Prosody's dial-backs go there.
        gatewayRecords: [
          { type: "SRV", name: `_xmpp-server._tcp.${GATEWAY_DOMAIN}`, target: `s2s.${GATEWAY_DOMAIN}`, port: REPLICA1_PORT, priority: 0, weight: 5 },
          { type: "A", name: `s2s.${GATEWAY_DOMAIN}`, address: GATEWAY_ADDRESS },
        ],
        natsLeafnodeHub: { jetstreamDomain: "hub" },
      },
    );
    // Replica 1: the same configuration, but on a leaf node of the gateway's NATS.
    leaf = await startNats(scope, { netns: scene.netns, host: "127.0.0.1", name: "nats-leaf", leafOf: scene.nats });
    const text = readFileSync(scene.gateway.configFile, "utf8");
    assert.ok(text.includes(scene.nats.url));
    const configFile = join(scope.dir("replica1"), "passerelle.yaml");
    writeFileSync(configFile, text.replace(scene.nats.url, leaf.url));
    replica1 = spawnProcess(scope, {
      name: "edge-listener-1",
      command: process.execPath,
      args: ["--import", "tsx", join(repoRoot, "services", "edge-listener", "src", "main.ts")],
      cwd: repoRoot,
      env: { ...process.env, PASSERELLE_CONFIG: configFile, PASSERELLE_HTTP_PORT: String(REPLICA1_HTTP), PASSERELLE_EDGE_PORT: String(REPLICA1_PORT), POD_NAME: "edge-listener-1", LOG_LEVEL: "debug" },
      netns: scene.netns,
      stopTimeoutMs: 8000,
    });
    await replica1.waitForLog("listening for XMPP servers", 30_000);

    romeoUa = await startSipUas(scope, { netns: scene.netns, address: SIP_AGENTS_ADDRESS, port: 5080, user: "romeo", proxy: { address: SIP_PROXY_ADDRESS, port: scene.kamailio.port, domain: GATEWAY_DOMAIN } });
    const server = scene.servers.get(PARTNER);
    assert.ok(server);
    julietClient = await connectXmppClient(scope, { netns: scene.netns, server, ...juliet, caFile: scene.ca.certFile, insecureTls: true });
  });

  after(() => scope.close());

  it("Romeo → juliet@verona.test: replica 0 sends db:result, Prosody's db:verify reaches replica 1, the stream is authenticated and Juliet gets the message", async () => {
    // Both replicas serve the outbound queue group before anything is sent.
    assert.equal(replica1.exitInfo(), undefined);

    const body = "Juliet, this went out through replica 0 and was vouched for by replica 1";
    const result = await sendSipMessage(scope, {
      netns: scene.netns,
      address: SIP_AGENTS_ADDRESS,
      port: 5102,
      from: `sip:romeo@${GATEWAY_DOMAIN}`,
      to: `sip:juliet@${PARTNER}`,
      body,
      proxy: { address: SIP_PROXY_ADDRESS, port: scene.kamailio.port },
      timeoutMs: 30_000,
    });
    assert.equal(result.code, 200, `UAC got ${result.code ?? "no answer"}: ${result.responses.map((r) => r.startLine).join(" | ")}`);
    const got = await julietClient.waitForMessage({ from: /^romeo@gateway\.test/, body }, 20_000);
    assert.equal(got.body, body);

    // Replica 0 originated the stream and authenticated it by dialback (it sent db:result).
    const sent = await waitForLogLine(scene, "edge-listener", (l) => l.msg === "outbound s2s stream authenticated" && l.remote === PARTNER);
    assert.equal(sent.method, "dialback");
    assert.notEqual(sent.tls, "none");
    assert.equal(readLogLines(replica1.logFile).some((l) => l.msg === "outbound s2s stream authenticated"), false, "replica 1 originated nothing");

    // Replica 1 received Prosody's db:verify and asked the authority; replica 0 never did.
    const m0 = await metricsOf(replica0().httpUrl);
    const m1 = await metricsOf(`http://127.0.0.1:${REPLICA1_HTTP}`);
    assert.ok(busCount(m1, VERIFY_SUBJECT, "out", "answered") >= 1, `replica 1 asked the authority to verify a key:\n${m1.split("\n").filter((l) => l.includes("dialback")).join("\n")}`);
    assert.equal(busCount(m0, VERIFY_SUBJECT, "out", "answered"), 0, "replica 0 received no db:verify");
    // The delivery went to replica 0 alone (replica 1 took no outbound request).
    assert.ok(busCount(m0, DELIVER_SUBJECT, "in", "handled") >= 1);
    assert.equal(busCount(m1, DELIVER_SUBJECT, "in", "handled"), 0);
    // Prosody connected to replica 1 for its dial-back (the stream it opened to gateway.test).
    await waitForLine(replica1.logFile, (l) => l.msg === "inbound stream authenticated" && l.partner === PARTNER);
    assert.equal(
      scene.logOf("edge-listener").some((l) => l.msg === "inbound stream authenticated"),
      false,
      "nothing reached replica 0 inbound: our SRV record names replica 1 only",
    );
  });

  it("the mirror: Prosody's stream to us lands on replica 1, the authority's dial-back verifies it, and Juliet's reply reaches Romeo's phone", async () => {
    const body = "Romeo, my answer came in through replica 1";
    await julietClient.send(`romeo@${GATEWAY_DOMAIN}`, body);
    const message = await romeoUa.waitForMessage(body, 30_000);
    assert.equal(message.body, body);
    const line = await waitForLine(replica1.logFile, (l) => l.msg === "inbound stream authenticated" && l.partner === PARTNER);
    assert.equal(line.method, "dialback");
    assert.equal(line.tls, true);
    assert.equal(scene.logOf("edge-listener").some((l) => l.msg === "inbound stream authenticated"), false, "replica 0 took no inbound stream");
    // The authority dialled Prosody back itself and said "valid" to replica 1's question.
    const m1 = await metricsOf(`http://127.0.0.1:${REPLICA1_HTTP}`);
    assert.ok(busCount(m1, "passerelle.v1.dialback.authorize", "out", "answered") >= 1, m1.split("\n").filter((l) => l.includes("dialback")).join("\n"));
  });
});
