// Chat states, end to end: Alice on a real Prosody (certificate, SASL EXTERNAL) types to the Nurse,
// an internal user whose SIP user agent (sipp) is registered at a real Kamailio; the whole gateway
// in between. XEP-0085 <composing/> must reach the phone as an RFC 3994 isComposing MESSAGE.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connectXmppClient, createScope, startSipUas, sweepStaleNetns, type SipUas, type XmppClient } from "@passerelle/testkit";
import { GATEWAY_DOMAIN, SIP_AGENTS_ADDRESS, SIP_PROXY_ADDRESS, startScene, type Scene } from "./lib/gateway-scenario.ts";

const alice = { username: "alice", password: "alice-pw" };
const nurse = `nurse@${GATEWAY_DOMAIN}`;
const CHATSTATES = "http://jabber.org/protocol/chatstates";

describe("chat states: XEP-0085 on Prosody → gateway → Kamailio → RFC 3994 on a SIP user agent", { timeout: 180_000 }, () => {
  const scope = createScope("chat-states");
  let scene: Scene;
  let nurseUa: SipUas;
  let client: XmppClient;

  before(async () => {
    sweepStaleNetns();
    scene = await startScene(scope, [
      { kind: "prosody", domain: "prosody.test", address: "127.0.0.2", mode: "certificate", users: [alice], partner: { type: "federated", tls: "required", sasl: "optional", dialback: true } },
    ]);
    nurseUa = await startSipUas(scope, {
      netns: scene.netns,
      address: SIP_AGENTS_ADDRESS,
      port: 5080,
      user: "nurse",
      proxy: { address: SIP_PROXY_ADDRESS, port: scene.kamailio.port, domain: GATEWAY_DOMAIN },
    });
    const server = scene.servers.get("prosody.test");
    assert.ok(server);
    client = await connectXmppClient(scope, { netns: scene.netns, server, ...alice, caFile: scene.ca.certFile, insecureTls: true });
  });

  after(() => scope.close());

  // RFC 3994 §4 / XEP-0085 §5.1: a body-less <composing/> becomes an isComposing document, state active.
  it("Alice starts typing: the phone gets an isComposing MESSAGE with state active", async () => {
    await client.sendRaw(`<message to='${nurse}' type='chat' id='cs1'><composing xmlns='${CHATSTATES}'/></message>`);
    const message = await nurseUa.waitForMessage(/<state>active<\/state>/, 30_000);
    assert.match(message.headers.get("content-type") ?? "", /^application\/im-iscomposing\+xml/i);
    assert.match(message.headers.get("from") ?? "", /alice@prosody\.test/);
    assert.match(message.body, /<refresh>90<\/refresh>/);
  });

  // RFC 3994 §3: <paused/> (not composing any more) becomes state idle.
  it("Alice stops typing: the phone gets state idle", async () => {
    await client.sendRaw(`<message to='${nurse}' type='chat' id='cs2'><paused xmlns='${CHATSTATES}'/></message>`);
    const message = await nurseUa.waitForMessage(/<state>idle<\/state>/, 30_000);
    assert.match(message.headers.get("content-type") ?? "", /^application\/im-iscomposing\+xml/i);
  });

  // RFC 3994 §4: a message with text implies idle; only the text goes, as text/plain.
  it("Alice sends text with <active/>: only the text reaches the phone", async () => {
    await client.sendRaw(`<message to='${nurse}' type='chat' id='cs3'><body>Good morrow, Nurse</body><active xmlns='${CHATSTATES}'/></message>`);
    const message = await nurseUa.waitForMessage("Good morrow, Nurse", 30_000);
    assert.match(message.headers.get("content-type") ?? "", /^text\/plain/i);
  });
});
