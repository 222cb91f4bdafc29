// Presence both ways, end to end (RFC 8048): internal users whose SIP user agent PUBLISHes to and
// SUBSCRIBEs through a real Kamailio presence server, and contacts on real Prosody servers of three
// partner types. The whole gateway in between.
//
//   alice@prosody.test     Prosody, certificate   Federated           sees the status note
//   bob@verified.test      Prosody, certificate   Public verified     subscribes without approval, never sees the note
//   carol@unverified.test  Prosody, certificate   Public unverified   held until Juliet allows her (admin API)
//   dave@unverified.test   (same server)          Public unverified   held until Juliet subscribes back
//
//   romeo@gateway.test, juliet@gateway.test: internal users (SIP UA at 127.0.0.5 through Kamailio)
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connectXmppClient, createScope, sweepStaleNetns, type ReceivedStanza, type XmppClient } from "@passerelle/testkit";
import { GATEWAY_DOMAIN, SIP_AGENTS_ADDRESS, SIP_PROXY_ADDRESS, startScene, waitForLogLine, type PartnerServerSpec, type Scene } from "./lib/gateway-scenario.ts";
import { startSipPresenceAgent, type SipPresenceAgent } from "./lib/sip-presence-agent.ts";

const users = {
  alice: { username: "alice", password: "alice-pw" },
  bob: { username: "bob", password: "bob-pw" },
  carol: { username: "carol", password: "carol-pw" },
  dave: { username: "dave", password: "dave-pw" },
};
const romeo = `romeo@${GATEWAY_DOMAIN}`;
const juliet = `juliet@${GATEWAY_DOMAIN}`;
const tls = { tls: "required", sasl: "optional", dialback: true } as const;
const partners: PartnerServerSpec[] = [
  { kind: "prosody", domain: "prosody.test", address: "127.0.0.2", mode: "certificate", users: [users.alice], partner: { type: "federated", ...tls } },
  { kind: "prosody", domain: "verified.test", address: "127.0.0.7", mode: "certificate", users: [users.bob], partner: { type: "public-verified", ...tls } },
  { kind: "prosody", domain: "unverified.test", address: "127.0.0.8", mode: "certificate", users: [users.carol, users.dave], partner: { type: "public-unverified", ...tls } },
];

// A SIP phone's PIDF (RFC 3863) with an RPID activity (RFC 4480) and a note.
function pidf(aor: string, basic: "open" | "closed", note?: string, activity?: string): string {
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="${aor}">`,
    `<tuple id="phone"><status><basic>${basic}</basic></status>${note === undefined ? "" : `<note>${note}</note>`}</tuple>`,
    activity === undefined ? "" : `<dm:person id="p1"><rpid:activities><rpid:${activity}/></rpid:activities></dm:person>`,
    "</presence>",
  ].join("");
}

const showOf = (s: ReceivedStanza): string | undefined => /<show>([^<]*)<\/show>/.exec(s.xml)?.[1];
const statusOf = (s: ReceivedStanza): string | undefined => /<status>([^<]*)<\/status>/.exec(s.xml)?.[1];

describe("presence: Kamailio presence server ↔ gateway ↔ Prosody, with the partner types' rules", { timeout: 120_000 }, () => {
  const scope = createScope("presence");
  let scene: Scene;
  let ua: SipPresenceAgent;
  const clients = new Map<string, XmppClient>();

  before(async () => {
    sweepStaleNetns();
    // The gateway's SUBSCRIBEs last 12 s, so one is renewed during the run.
    scene = await startScene(scope, partners, {}, { sipPresence: true, gatewayEnv: { PASSERELLE_PRESENCE_EXPIRES: "12" } });
    ua = await startSipPresenceAgent(scope, scene.netns, { address: SIP_AGENTS_ADDRESS, port: 5090, proxy: { host: SIP_PROXY_ADDRESS, port: scene.kamailio.port } });
    await Promise.all(
      (
        [
          ["alice", "prosody.test"],
          ["bob", "verified.test"],
          ["carol", "unverified.test"],
          ["dave", "unverified.test"],
        ] as const
      ).map(async ([name, domain]) => {
        const server = scene.servers.get(domain);
        assert.ok(server);
        clients.set(name, await connectXmppClient(scope, { netns: scene.netns, server, ...users[name], caFile: scene.ca.certFile, insecureTls: true }));
      }),
    );
  });

  after(() => scope.close());

  const client = (name: string): XmppClient => {
    const c = clients.get(name);
    assert.ok(c, `${name} is connected`);
    return c;
  };

  /** The first presence from `from` matching `match` (received already or within the bound). */
  async function presenceFrom(name: string, from: string, match: (s: ReceivedStanza) => boolean, timeoutMs = 20_000): Promise<ReceivedStanza> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = client(name).received().find((s) => s.name === "presence" && s.from.split("/")[0] === from && match(s));
      if (found !== undefined) return found;
      if (Date.now() > deadline) {
        const seen = client(name).received().filter((s) => s.name === "presence").map((s) => `  ${s.xml}`).join("\n") || "  (nothing)";
        throw new Error(`${name} saw no matching presence from ${from} within ${timeoutMs} ms; presence received:\n${seen}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const presenceCount = (name: string, from: string): number => client(name).received().filter((s) => s.name === "presence" && s.from.split("/")[0] === from).length;

  async function publish(aor: string, body: string | null, expires = 600): Promise<void> {
    const reply = await ua.run({ op: "publish", aor: `sip:${aor}`, pidf: body, expires });
    assert.equal(reply.status, 200, `PUBLISH for ${aor}: ${reply.status} ${reply.reason}`);
  }

  it("c. Alice (Federated) and Bob (Public verified) subscribe to Romeo without approval; both see him available, only Alice sees his note", async () => {
    await publish(romeo, pidf(`sip:${romeo}`, "open", "In the orchard"));
    await client("alice").sendRaw(`<presence type='subscribe' to='${romeo}'/>`);
    await client("bob").sendRaw(`<presence type='subscribe' to='${romeo}'/>`);
    // Prosody takes the gateway's <presence type='subscribed'/> into the roster (no stanza for the client); presence follows.
    const a = await presenceFrom("alice", romeo, (s) => s.type === "" && statusOf(s) === "In the orchard");
    assert.equal(showOf(a), undefined);
    const b = await presenceFrom("bob", romeo, (s) => s.type === "");
    assert.equal(statusOf(b), undefined, `Bob must not see the note: ${b.xml}`);
  });

  it("c. Romeo goes away, then offline: Alice sees away with the note, Bob away without it; both see him go offline", async () => {
    await publish(romeo, pidf(`sip:${romeo}`, "open", "Out to lunch", "lunch"));
    const a = await presenceFrom("alice", romeo, (s) => showOf(s) === "away");
    assert.equal(statusOf(a), "Out to lunch");
    const b = await presenceFrom("bob", romeo, (s) => showOf(s) === "away");
    assert.equal(statusOf(b), undefined, `Bob must not see the note: ${b.xml}`);
    assert.equal(client("bob").received().some((s) => s.xml.includes("Out to lunch") || s.xml.includes("In the orchard")), false, "no note ever reached Bob");
    await publish(romeo, null, 0);
    await presenceFrom("alice", romeo, (s) => s.type === "unavailable");
    await presenceFrom("bob", romeo, (s) => s.type === "unavailable");
  });

  it("c. Romeo's SIP phone watches Alice: 202, NOTIFY pending, then active with her PIDF once she approves; her dnd reaches him", async () => {
    const reply = await ua.run({ op: "subscribe", from: `sip:${romeo}`, to: "sip:alice@prosody.test", expires: 600 });
    assert.equal(reply.status, 202, `${reply.status} ${reply.reason}`);
    const callId = reply.callId ?? "";
    await ua.waitForNotify((n) => n.callId === callId && n.state.startsWith("pending"));
    // The gateway asked on Romeo's behalf; Alice approves on her client.
    await presenceFrom("alice", romeo, (s) => s.type === "subscribe");
    await client("alice").sendRaw(`<presence type='subscribed' to='${romeo}'/>`);
    const open = await ua.waitForNotify((n) => n.callId === callId && n.state.startsWith("active") && n.body.includes("<basic>open</basic>"));
    assert.match(open.contentType, /^application\/pidf\+xml/i);
    assert.match(open.body, /entity="sip:alice@prosody\.test"/);
    await client("alice").sendRaw(`<presence><show>dnd</show><status>In a meeting</status></presence>`);
    const busy = await ua.waitForNotify((n) => n.callId === callId && n.body.includes("busy"));
    // Alice's partner is Federated: her note crosses too.
    assert.match(busy.body, /<note>In a meeting<\/note>/);
  });

  it("c. Romeo's phone refreshes its watch in the dialog (through Kamailio's route), then ends it: NOTIFY terminated, <presence type='unsubscribe'/> written to Alice's server", async () => {
    const reply = await ua.run({ op: "subscribe", from: `sip:${romeo}`, to: "sip:alice@prosody.test", expires: 600 });
    assert.equal(reply.status, 202);
    const callId = reply.callId ?? "";
    const dialog = { callId, toTag: reply.toTag ?? "", target: /<([^>]+)>/.exec(reply.headers?.["contact"] ?? "")?.[1] ?? "", route: reply.headers?.["record-route"] ?? "" };
    assert.ok(dialog.toTag && dialog.target && dialog.route, JSON.stringify(reply.headers));
    await ua.waitForNotify((n) => n.callId === callId && n.state.startsWith("active"));
    const seen = ua.notifies().filter((n) => n.callId === callId).length;
    const refreshed = await ua.run({ op: "subscribe", from: `sip:${romeo}`, to: "sip:alice@prosody.test", expires: 300, cseq: 2, ...dialog });
    assert.equal(refreshed.status, 200, `${refreshed.status} ${refreshed.reason}`);
    assert.equal(refreshed.headers?.["expires"], "300");
    await ua.waitForNotify((n) => n.callId === callId && ua.notifies().filter((x) => x.callId === callId).indexOf(n) >= seen && n.state.startsWith("active"));
    const ended = await ua.run({ op: "subscribe", from: `sip:${romeo}`, to: "sip:alice@prosody.test", expires: 0, cseq: 3, ...dialog });
    assert.equal(ended.status, 200);
    await ua.waitForNotify((n) => n.callId === callId && n.state.startsWith("terminated"));
    // Prosody takes <presence type='unsubscribe'/> into Alice's roster (no stanza for the client): the edge wrote it.
    await waitForLogLine(scene, "sip-translator", (l) => l.msg === "presence" && l.presence === "xmpp-send" && l.outcome === "ok" && l.detail === "unsubscribe" && l.contact === "alice@prosody.test");
  });

  it("c. the gateway renews its SUBSCRIBE to Romeo's presence before it expires, and his next change still reaches Alice", async () => {
    await waitForLogLine(scene, "sip-translator", (l) => l.msg === "presence" && l.presence === "watch" && l.detail === "refreshed" && l.contact === "alice@prosody.test", 20_000);
    await publish(romeo, pidf(`sip:${romeo}`, "open", "Back again"));
    await presenceFrom("alice", romeo, (s) => statusOf(s) === "Back again");
  });

  it("c. bad input: a SUBSCRIBE for another event package is answered 489 with Allow-Events; a stray NOTIFY 481", async () => {
    const reply = await ua.run({ op: "subscribe", from: `sip:${romeo}`, to: "sip:alice@prosody.test", expires: 600, event: "dialog" });
    assert.equal(reply.status, 489, `${reply.status} ${reply.reason}`);
    assert.equal(reply.headers?.["allow-events"], "presence");
    await waitForLogLine(scene, "sip-translator", (l) => l.msg === "presence" && l.outcome === "refused" && l.status === 489);
    // A NOTIFY for no subscription of the gateway's (routed to it by Kamailio): 481, nothing reaches Alice.
    const before = client("alice").received().length;
    const stray = await ua.run({ op: "notify", from: `sip:${romeo}`, to: "sip:alice@prosody.test", body: pidf(`sip:${romeo}`, "open", "Forged"), contentType: "application/pidf+xml" });
    assert.equal(stray.status, 481, `${stray.status} ${stray.reason}`);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(client("alice").received().slice(before).some((s) => s.xml.includes("Forged")), false);
  });

  it("d. Carol (Public unverified) is held: no subscribed, no presence, until Juliet allows her; then approved and she sees Juliet (without the note)", async () => {
    await publish(juliet, pidf(`sip:${juliet}`, "open", "On the balcony"));
    await client("carol").sendRaw(`<presence type='subscribe' to='${juliet}'/>`);
    await waitForLogLine(scene, "sip-translator", (l) => l.msg === "presence" && l.presence === "hold" && l.contact === "carol@unverified.test");
    await client("carol").sendRaw(`<presence type='probe' to='${juliet}'/>`);
    await waitForLogLine(scene, "sip-translator", (l) => l.msg === "presence" && l.presence === "probe" && l.outcome === "ignored" && l.contact === "carol@unverified.test");
    assert.equal(presenceCount("carol", juliet), 0, "nothing about Juliet reached Carol while held");
    const allowed = await scene.admin("PUT", `/v1/users/${juliet}/allowed/carol@unverified.test`);
    assert.ok(allowed.status >= 200 && allowed.status < 300, `${allowed.status} ${allowed.body}`);
    const p = await presenceFrom("carol", juliet, (s) => s.type === "");
    assert.equal(statusOf(p), undefined, `Carol must not see the note: ${p.xml}`);
  });

  it("d. Juliet takes Carol off her allow-list: the subscription is revoked and Carol sees Juliet go unavailable", async () => {
    const removed = await scene.admin("DELETE", `/v1/users/${juliet}/allowed/carol@unverified.test`);
    assert.ok(removed.status >= 200 && removed.status < 300, `${removed.status} ${removed.body}`);
    await presenceFrom("carol", juliet, (s) => s.type === "unavailable");
    await waitForLogLine(scene, "sip-translator", (l) => l.msg === "presence" && l.presence === "revoke" && l.contact === "carol@unverified.test");
  });

  it("d. Dave (Public unverified) is held until Juliet's phone subscribes to him, which approves him", async () => {
    await client("dave").sendRaw(`<presence type='subscribe' to='${juliet}'/>`);
    await waitForLogLine(scene, "sip-translator", (l) => l.msg === "presence" && l.presence === "hold" && l.contact === "dave@unverified.test");
    assert.equal(presenceCount("dave", juliet), 0, "nothing about Juliet reached Dave while held");
    const reply = await ua.run({ op: "subscribe", from: `sip:${juliet}`, to: "sip:dave@unverified.test", expires: 600 });
    assert.equal(reply.status, 202, `${reply.status} ${reply.reason}`);
    await presenceFrom("dave", juliet, (s) => s.type === "subscribe");
    const p = await presenceFrom("dave", juliet, (s) => s.type === "");
    assert.equal(statusOf(p), undefined, `Dave must not see the note: ${p.xml}`);
  });
});
