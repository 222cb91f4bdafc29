// Inbound federation, end to end: users on real Prosody and ejabberd servers write to Juliet, an
// internal user whose SIP user agent (sipp) is registered at a real Kamailio. Between them, the
// whole gateway: edge-listener, dialback-authority, policy, sip-translator, dns-registrar, with
// real NATS, Redis and bind9, all inside one network namespace this test creates.
//
//   alice@prosody.test   Prosody, certificate (SASL EXTERNAL over TLS)     Federated
//   bob@dbtls.test       Prosody, self-signed certificate (dialback/TLS)   Federated
//   carol@plain.test     Prosody, no TLS for s2s (dialback over TCP)       Federated, TLS Not supported
//   frank@public.test    Prosody, no TLS for s2s                           Public unverified
//   eve@stranger.test    Prosody, no TLS for s2s                           not a partner
//   dave@ejabberd.test   ejabberd, certificate                             Federated
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connectXmppClient, createScope, startSipUas, sweepStaleNetns, type SipUas, type XmppClient } from "@passerelle/testkit";
import { GATEWAY_DOMAIN, SIP_AGENTS_ADDRESS, SIP_PROXY_ADDRESS, startScene, waitForLogLine, type Scene } from "./lib/gateway-scenario.ts";

const users = {
  alice: { username: "alice", password: "alice-pw" },
  bob: { username: "bob", password: "bob-pw" },
  carol: { username: "carol", password: "carol-pw" },
  frank: { username: "frank", password: "frank-pw" },
  eve: { username: "eve", password: "eve-pw" },
  dave: { username: "dave", password: "dave-pw" },
};
const juliet = `juliet@${GATEWAY_DOMAIN}`;

describe("inbound federation: XMPP partners → gateway → Kamailio → SIP user agent", { timeout: 240_000 }, () => {
  const scope = createScope("inbound-federation");
  let scene: Scene;
  let julietUa: SipUas;
  const clients = new Map<string, XmppClient>();

  before(async () => {
    sweepStaleNetns();
    scene = await startScene(scope, [
      { kind: "prosody", domain: "prosody.test", address: "127.0.0.2", mode: "certificate", users: [users.alice], partner: { type: "federated", tls: "required", sasl: "optional", dialback: true } },
      { kind: "prosody", domain: "dbtls.test", address: "127.0.0.7", mode: "dialback-tls", users: [users.bob], partner: { type: "federated", tls: "required", sasl: "optional", dialback: true } },
      { kind: "prosody", domain: "plain.test", address: "127.0.0.8", mode: "dialback-plain", users: [users.carol], partner: { type: "federated", tls: "not-supported", sasl: "not-supported", dialback: true } },
      { kind: "prosody", domain: "public.test", address: "127.0.0.10", mode: "dialback-plain", users: [users.frank], partner: { type: "public-unverified", tls: "not-supported", sasl: "not-supported", dialback: true } },
      { kind: "prosody", domain: "stranger.test", address: "127.0.0.9", mode: "dialback-plain", users: [users.eve] },
      { kind: "ejabberd", domain: "ejabberd.test", address: "127.0.0.6", mode: "certificate", users: [users.dave], partner: { type: "federated", tls: "required", sasl: "optional", dialback: true } },
    ]);
    julietUa = await startSipUas(scope, {
      netns: scene.netns,
      address: SIP_AGENTS_ADDRESS,
      port: 5080,
      user: "juliet",
      proxy: { address: SIP_PROXY_ADDRESS, port: scene.kamailio.port, domain: GATEWAY_DOMAIN },
    });
    for (const [name, domain] of [
      ["alice", "prosody.test"],
      ["bob", "dbtls.test"],
      ["carol", "plain.test"],
      ["frank", "public.test"],
      ["eve", "stranger.test"],
      ["dave", "ejabberd.test"],
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

  const authenticatedAs = (partner: string) => (line: Record<string, unknown>) => line.msg === "inbound stream authenticated" && line.partner === partner;

  it("a. Alice (Prosody) writes to Juliet over SASL EXTERNAL and TLS; Juliet's phone shows it", async () => {
    // Alice on prosody.test sends "Hello Juliet, Alice here".
    await client("alice").send(juliet, "Hello Juliet, Alice here");
    // Juliet's SIP user agent receives a MESSAGE with exactly that body, as text/plain.
    const message = await julietUa.waitForMessage("Hello Juliet, Alice here", 30_000);
    assert.match(message.headers.get("content-type") ?? "", /^text\/plain/i);
    assert.match(message.headers.get("from") ?? "", /alice@prosody\.test/);
    // The gateway authenticated prosody.test by its certificate.
    const line = await waitForLogLine(scene, "edge-listener", authenticatedAs("prosody.test"));
    assert.equal(line.method, "sasl-external");
    assert.equal(line.tls, true);
  });

  it("b. Bob (self-signed certificate) is authenticated by dialback over TLS", async () => {
    await client("bob").send(juliet, "Bob via dialback over TLS");
    await julietUa.waitForMessage("Bob via dialback over TLS", 30_000);
    const line = await waitForLogLine(scene, "edge-listener", authenticatedAs("dbtls.test"));
    assert.equal(line.method, "dialback");
    assert.equal(line.tls, true);
  });

  it("b. Carol (partner with TLS Not supported) is authenticated by dialback over TCP", async () => {
    await client("carol").send(juliet, "Carol via dialback over TCP");
    await julietUa.waitForMessage("Carol via dialback over TCP", 30_000);
    const line = await waitForLogLine(scene, "edge-listener", authenticatedAs("plain.test"));
    assert.equal(line.method, "dialback");
    assert.equal(line.tls, false);
  });

  it("c. Dave on ejabberd writes to Juliet", async () => {
    await client("dave").send(juliet, "Dave from ejabberd ✓");
    await julietUa.waitForMessage("Dave from ejabberd ✓", 30_000);
    await waitForLogLine(scene, "edge-listener", authenticatedAs("ejabberd.test"));
  });

  it("d. Eve's domain is not a partner: its stream is refused and Eve gets an error", async () => {
    await client("eve").send(juliet, "Eve should not get through");
    // Prosody reports the failed delivery back to Eve as an error stanza.
    const bounce = await client("eve").waitForMessage({ type: "error" }, 30_000);
    assert.match(bounce.from, /juliet@gateway\.test/);
    const refusal = await waitForLogLine(scene, "edge-listener", (l) => l.msg === "inbound stream refused" && l.partner === "stranger.test");
    assert.equal(refusal.condition, "policy-violation");
    assert.equal(julietUa.messages().some((m) => m.body.includes("Eve should not")), false);
  });

  it("d. Frank (Public unverified) is refused until Juliet allows him, then gets through", async () => {
    await client("frank").send(juliet, "Frank, first try");
    const bounce = await client("frank").waitForMessage({ type: "error", from: juliet }, 30_000);
    assert.match(bounce.xml, /<forbidden xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']/);
    assert.equal(julietUa.messages().some((m) => m.body === "Frank, first try"), false);

    // The admin (or Juliet's client, later) allows Frank.
    const allowed = await scene.admin("PUT", `/v1/users/${juliet}/allowed/frank@public.test`);
    assert.equal(allowed.status, 201, allowed.body);

    await client("frank").send(juliet, "Frank, second try");
    await julietUa.waitForMessage("Frank, second try", 30_000);
  });

  it("e. a message to an internal user who does not exist comes back as item-not-found", async () => {
    await client("alice").send(`nobody@${GATEWAY_DOMAIN}`, "Is anybody there?");
    const bounce = await client("alice").waitForMessage({ type: "error", from: `nobody@${GATEWAY_DOMAIN}` }, 40_000);
    assert.match(bounce.xml, /<item-not-found xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']/);
  });

  it("the admin API refuses a request without credentials", async () => {
    const script = `fetch(${JSON.stringify(`${scene.gateway.services.find((s) => s.name === "policy")?.httpUrl}/v1/users/${juliet}`)}).then(r=>console.log(r.status))`;
    const result = await scene.netns.exec(process.execPath, ["-e", script], { timeoutMs: 10_000 });
    assert.equal(result.stdout.trim(), "401");
  });
});
