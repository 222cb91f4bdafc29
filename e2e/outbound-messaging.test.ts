// Outbound messaging, end to end: Romeo, an internal user whose SIP user agent (sipp) sends through
// a real Kamailio, writes to users on real Prosody and ejabberd servers. Kamailio routes partner
// domains to the gateway's SIP translator; policy authorises; an edge listener opens the s2s stream
// (SASL EXTERNAL, dialback over TLS, dialback over TCP) and the SIP request is answered 200 once
// the stanza is written, or with the RFC 7247 §8 code of the failure.
//
//   alice@prosody.test   Prosody, certificate (SASL EXTERNAL over TLS)     Federated
//   bob@dbtls.test       Prosody, self-signed (dialback over TLS)          Federated, SASL Not supported
//   carol@plain.test     Prosody, no TLS for s2s (dialback over TCP)       Federated, TLS Not supported
//   dave@ejabberd.test   ejabberd, certificate                             Federated
//   grace@fresh.test     Prosody, self-signed (dialback over TLS)          Public unverified, SASL Not supported; the burst test
//   nobody@nodns.test    no server, no DNS records                         Federated (configured partner)
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { RawConfig } from "@passerelle/config";
import { connectXmppClient, createScope, sendSipMessage, sweepStaleNetns, type XmppClient } from "@passerelle/testkit";
import { GATEWAY_DOMAIN, SIP_AGENTS_ADDRESS, SIP_PROXY_ADDRESS, startScene, waitForLogLine, type PartnerServerSpec, type Scene } from "./lib/gateway-scenario.ts";

type PartnerEntry = NonNullable<RawConfig["partners"]>[number];

const users = {
  alice: { username: "alice", password: "alice-pw" },
  bob: { username: "bob", password: "bob-pw" },
  carol: { username: "carol", password: "carol-pw" },
  dave: { username: "dave", password: "dave-pw" },
  grace: { username: "grace", password: "grace-pw" },
};
const romeo = `sip:romeo@${GATEWAY_DOMAIN}`;
const ESTABLISHMENT_S = 10;

const federated = { type: "federated", tls: "required", sasl: "optional", dialback: true } as const;
const partners: PartnerServerSpec[] = [
  { kind: "prosody", domain: "prosody.test", address: "127.0.0.2", mode: "certificate", users: [users.alice], partner: federated },
  // SASL Not supported: Prosody would accept our certificate for SASL EXTERNAL; this entry makes us use dialback over TLS.
  { kind: "prosody", domain: "dbtls.test", address: "127.0.0.7", mode: "dialback-tls", users: [users.bob], partner: { type: "federated", tls: "required", sasl: "not-supported", dialback: true } },
  { kind: "prosody", domain: "plain.test", address: "127.0.0.8", mode: "dialback-plain", users: [users.carol], partner: { type: "federated", tls: "not-supported", sasl: "not-supported", dialback: true } },
  { kind: "ejabberd", domain: "ejabberd.test", address: "127.0.0.6", mode: "certificate", users: [users.dave], partner: federated },
  { kind: "prosody", domain: "fresh.test", address: "127.0.0.11", mode: "dialback-tls", users: [users.grace], partner: { type: "public-unverified", tls: "required", sasl: "not-supported", dialback: true } },
];

let uacPort = 5100;

describe("outbound messaging: SIP user agent → Kamailio → gateway → XMPP partners", { timeout: 300_000 }, () => {
  const scope = createScope("outbound-messaging");
  let scene: Scene;
  const clients = new Map<string, XmppClient>();

  before(async () => {
    sweepStaleNetns();
    const entries: PartnerEntry[] = [
      ...partners.map((p) => ({ domain: p.domain, ...p.partner }) as PartnerEntry),
      { domain: "nodns.test", type: "federated", tls: "optional", sasl: "optional", dialback: true } as PartnerEntry,
    ];
    scene = await startScene(scope, partners, {
      partners: entries,
      gateway: {
        edgeFqdn: GATEWAY_DOMAIN,
        dialback: { secret: "e2e-dialback-secret-0123456789" },
        timeouts: { keepaliveInterval: 300, streamEstablishment: ESTABLISHMENT_S, streamInactivity: 600, subscriptionRefresh: 28800 },
      },
    });
    for (const [name, domain] of [
      ["alice", "prosody.test"],
      ["bob", "dbtls.test"],
      ["carol", "plain.test"],
      ["dave", "ejabberd.test"],
      ["grace", "fresh.test"],
    ] as const) {
      const server = scene.servers.get(domain);
      assert.ok(server);
      clients.set(name, await connectXmppClient(scope, { netns: scene.netns, server, ...users[name], caFile: scene.ca.certFile, insecureTls: true }));
    }
  });

  after(() => scope.close());

  const client = (name: string): XmppClient => {
    const c = clients.get(name);
    assert.ok(c, `${name} is connected`);
    return c;
  };

  const sipSend = (from: string, to: string, body: string, timeoutMs = 30_000) =>
    sendSipMessage(scope, {
      netns: scene.netns,
      address: SIP_AGENTS_ADDRESS,
      port: (uacPort += 2),
      from,
      to,
      body,
      proxy: { address: SIP_PROXY_ADDRESS, port: scene.kamailio.port },
      timeoutMs,
    });

  /** Romeo writes `body` to `jid`; the XMPP client receives exactly that body, once; the UAC got 200. */
  async function romeoWrites(name: string, jid: string, body: string): Promise<void> {
    const started = Date.now();
    const result = await sipSend(romeo, `sip:${jid}`, body);
    assert.equal(result.code, 200, `UAC got ${result.code ?? "no answer"}: ${result.responses.map((r) => r.startLine).join(" | ")}`);
    const got = await client(name).waitForMessage({ from: /^romeo@gateway\.test/, body }, 20_000);
    assert.equal(got.body, body);
    assert.equal(got.type, "chat");
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(client(name).received().filter((s) => s.body === body).length, 1, "delivered exactly once");
    console.log(`# ${jid}: 200 and delivery in ${Date.now() - started} ms (first message, link set up)`);
  }

  const outboundAuthenticated = (remote: string) => (line: Record<string, unknown>) => line.msg === "outbound s2s stream authenticated" && line.remote === remote;

  it("a. Romeo → alice@prosody.test over SASL EXTERNAL: 200, Alice receives exactly the body", async () => {
    await romeoWrites("alice", "alice@prosody.test", "Hello Alice, Romeo here ✓ <&>");
    const line = await waitForLogLine(scene, "edge-listener", outboundAuthenticated("prosody.test"));
    assert.equal(line.method, "sasl-external");
    assert.notEqual(line.tls, "none");
    // Writing to a contact allowed it (MISSION.md: an internal user adding an XMPP contact authorises it).
    const user = await scene.admin("GET", `/v1/users/romeo@${GATEWAY_DOMAIN}`);
    assert.equal(user.status, 200, user.body);
    assert.ok((JSON.parse(user.body) as { allowed: string[] }).allowed.includes("alice@prosody.test"), user.body);
  });

  it("a. Romeo → bob@dbtls.test over dialback with TLS", async () => {
    await romeoWrites("bob", "bob@dbtls.test", "Bob, dialback over TLS");
    const line = await waitForLogLine(scene, "edge-listener", outboundAuthenticated("dbtls.test"));
    assert.equal(line.method, "dialback");
    assert.notEqual(line.tls, "none");
  });

  it("a. Romeo → carol@plain.test over dialback on plain TCP", async () => {
    await romeoWrites("carol", "carol@plain.test", "Carol, dialback over TCP");
    const line = await waitForLogLine(scene, "edge-listener", outboundAuthenticated("plain.test"));
    assert.equal(line.method, "dialback");
    assert.equal(line.tls, "none");
  });

  it("a. Romeo → dave@ejabberd.test", async () => {
    await romeoWrites("dave", "dave@ejabberd.test", "Dave, from SIP to ejabberd");
    await waitForLogLine(scene, "edge-listener", outboundAuthenticated("ejabberd.test"));
  });

  it("a. a second message reuses the link and is answered quickly", async () => {
    const started = Date.now();
    const result = await sipSend(romeo, "sip:alice@prosody.test", "Alice, second message");
    assert.equal(result.code, 200);
    await client("alice").waitForMessage({ body: "Alice, second message" }, 10_000);
    console.log(`# second message: 200 and delivery in ${Date.now() - started} ms (sipp start included)`);
  });

  it("b. a partner with no DNS records: the UAC gets the mapped error within the stream establishment timeout", async () => {
    const started = Date.now();
    const result = await sipSend(romeo, "sip:nobody@nodns.test", "Is anybody there?", (ESTABLISHMENT_S + 10) * 1000);
    const elapsed = Date.now() - started;
    console.log(`# nodns.test: ${result.code ?? "none"} after ${elapsed} ms`);
    // RFC 7247 §8.1: remote-server-not-found → 404, remote-server-timeout → 408.
    assert.ok(result.code === 404 || result.code === 408, `got ${result.code ?? "no answer"}`);
    assert.ok(elapsed < (ESTABLISHMENT_S + 3) * 1000, `answered after ${elapsed} ms`);
  });

  it("b. five messages sent while the link to a fresh partner is being set up all arrive, in order", async () => {
    const burst = await sipBurst(scene, { from: romeo, to: "sip:grace@fresh.test", bodies: [1, 2, 3, 4, 5].map((i) => `burst ${i}`), gapMs: 10, localPort: 5300 });
    console.log(`# burst: sent over ${burst.lastSentAt - burst.firstSentAt} ms; first final answer ${burst.firstAnswerAt - burst.firstSentAt} ms after the first send; codes ${burst.codes.join(",")}`);
    assert.deepEqual(burst.codes, [200, 200, 200, 200, 200]);
    // All five were sent before the first answer: they waited for the link together.
    assert.ok(burst.lastSentAt <= burst.firstAnswerAt, "the link was up before the last message was sent; no queueing tested");
    const deadline = Date.now() + 20_000;
    let bodies: (string | null)[] = [];
    while (Date.now() < deadline) {
      bodies = client("grace").received().filter((s) => s.body?.startsWith("burst ") === true).map((s) => s.body);
      if (bodies.length >= 5) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(bodies, ["burst 1", "burst 2", "burst 3", "burst 4", "burst 5"]);
  });

  it("c. a sender without XMPP access gets 403 and nothing is sent", async () => {
    const mallory = `mallory@${GATEWAY_DOMAIN}`;
    const changed = await scene.admin("PUT", `/v1/users/${mallory}/xmpp-access`, { allowed: false });
    assert.equal(changed.status, 200, changed.body);
    const result = await sipSend(`sip:${mallory}`, "sip:alice@prosody.test", "Mallory should not get through");
    assert.equal(result.code, 403);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(client("alice").received().some((s) => s.body === "Mallory should not get through"), false);
  });
});

interface BurstResult {
  codes: (number | null)[];
  firstSentAt: number;
  lastSentAt: number;
  firstAnswerAt: number;
}

/**
 * Sends several MESSAGEs over UDP from one socket inside the namespace, `gapMs` apart, without
 * waiting for answers (sipp sends one per process), and collects each final answer (bounded).
 */
async function sipBurst(scene: Scene, o: { from: string; to: string; bodies: string[]; gapMs: number; localPort: number }): Promise<BurstResult> {
  const script = `
const dgram = require("node:dgram");
const o = ${JSON.stringify({ ...o, local: SIP_AGENTS_ADDRESS, proxy: SIP_PROXY_ADDRESS, proxyPort: scene.kamailio.port })};
const sock = dgram.createSocket("udp4");
const codes = o.bodies.map(() => null);
const sent = [];
let firstAnswerAt = 0;
const finish = () => { console.log(JSON.stringify({ codes, firstSentAt: sent[0], lastSentAt: sent[sent.length - 1], firstAnswerAt })); sock.close(); process.exit(0); };
const bound = setTimeout(finish, 30000);
sock.on("message", (buf) => {
  const text = buf.toString("utf8");
  const m = /^SIP\\/2\\.0 (\\d{3})/.exec(text);
  const call = /\\r\\nCall-ID:\\s*burst-(\\d+)-/i.exec(text);
  if (!m || !call) return;
  const code = Number(m[1]);
  if (code < 200) return;
  if (firstAnswerAt === 0) firstAnswerAt = Date.now();
  codes[Number(call[1])] = code;
  if (codes.every((c) => c !== null)) { clearTimeout(bound); finish(); }
});
sock.bind(o.localPort, o.local, async () => {
  for (let i = 0; i < o.bodies.length; i++) {
    const body = Buffer.from(o.bodies[i], "utf8");
    const head = [
      "MESSAGE " + o.to + " SIP/2.0",
      "Via: SIP/2.0/UDP " + o.local + ":" + o.localPort + ";branch=z9hG4bK-burst-" + i + "-" + process.pid + ";rport",
      "Max-Forwards: 70",
      "From: <" + o.from + ">;tag=burst" + i,
      "To: <" + o.to + ">",
      "Call-ID: burst-" + i + "-" + process.pid,
      "CSeq: 1 MESSAGE",
      "Content-Type: text/plain;charset=UTF-8",
      "Content-Length: " + body.length,
      "", "",
    ].join("\\r\\n");
    sock.send(Buffer.concat([Buffer.from(head, "utf8"), body]), o.proxyPort, o.proxy);
    sent.push(Date.now());
    await new Promise((r) => setTimeout(r, o.gapMs));
  }
});
`;
  const result = await scene.netns.exec(process.execPath, ["-e", script], { timeoutMs: 40_000, allowFailure: true });
  const line = result.stdout.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line) as BurstResult;
  } catch {
    throw new Error(`the burst sender printed no result: ${result.stdout} ${result.stderr}`);
  }
}
