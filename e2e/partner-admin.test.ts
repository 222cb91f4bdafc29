// Partner administration, live, against the real gateway: two policy replicas and two edge
// replicas, a real Prosody partner (certificate, SASL EXTERNAL over TLS), Kamailio and a sipp UAS
// for Juliet. The admin changes the partner through the policy service's REST API and every
// replica applies the change on the next stanza, without a restart.
//
//   alice@prosody.test   Prosody, certificate     Federated (from the configuration file)
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { connectXmppClient, createScope, startSipUas, sweepStaleNetns, type SipUas, type XmppClient } from "@passerelle/testkit";
import { ADMIN_TOKEN, GATEWAY_DOMAIN, SIP_AGENTS_ADDRESS, SIP_PROXY_ADDRESS, startScene, waitForLogLine, type Scene } from "./lib/gateway-scenario.ts";

const alice = { username: "alice", password: "alice-pw" };
const juliet = `juliet@${GATEWAY_DOMAIN}`;
const PARTNER = "prosody.test";
type Json = Record<string, unknown>;

describe("partner administration: changes through the API apply live at every replica", { timeout: 240_000 }, () => {
  const scope = createScope("partner-admin");
  let scene: Scene;
  let julietUa: SipUas;
  let client: XmppClient;

  /** Any HTTP request to policy replica 0's admin API, from inside the namespace. */
  const http = async (method: string, path: string, options: { body?: string; contentType?: string; token?: string | null } = {}): Promise<{ status: number; body: string }> => {
    const url = `${scene.gateway.services.find((s) => s.name === "policy" && s.replica === 0)?.httpUrl ?? ""}${path}`;
    const headers: Record<string, string> = {};
    const token = options.token === undefined ? ADMIN_TOKEN : options.token;
    if (token !== null) headers.authorization = `Bearer ${token}`;
    if (options.contentType !== undefined) headers["content-type"] = options.contentType;
    const init = JSON.stringify({ method, headers, ...(options.body === undefined ? {} : { body: options.body }) });
    const script = `fetch(${JSON.stringify(url)},{...${init},signal:AbortSignal.timeout(5000)}).then(async r=>console.log(JSON.stringify({status:r.status,body:await r.text()})),e=>console.log(JSON.stringify({status:0,body:String(e)})))`;
    const result = await scene.netns.exec(process.execPath, ["-e", script], { timeoutMs: 10_000, allowFailure: true });
    return JSON.parse(result.stdout.trim() || '{"status":0,"body":"no output"}') as { status: number; body: string };
  };
  const json = (r: { body: string }) => JSON.parse(r.body) as Json;
  const revision = async () => Number(json(await http("GET", "/v1/partners")).revision);

  /** Every replica of policy and edge-listener logged that it applied `rev` (bounded wait). */
  const appliedEverywhere = async (rev: number) => {
    const replicas = scene.gateway.services.filter((s) => s.name === "policy" || s.name === "edge-listener");
    assert.equal(replicas.length, 4);
    const deadline = Date.now() + 10_000;
    for (const replica of replicas) {
      while (true) {
        const lines = readFileSync(replica.process.logFile, "utf8").split("\n").filter((l) => l.includes("partner directory updated"));
        if (lines.some((l) => Number((JSON.parse(l) as Json).revision) >= rev)) break;
        assert.ok(Date.now() < deadline, `${replica.name}-${replica.replica} did not apply revision ${rev}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      // The same process as at start: applied without a restart.
      assert.equal(replica.process.exitInfo(), undefined);
    }
  };

  /** The next error stanza from Juliet after `seen` stanzas had arrived (bounded). */
  const nextErrorFromJuliet = async (seen: number, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const found = client.received().slice(seen).find((s) => s.type === "error" && s.from.startsWith(juliet));
      if (found !== undefined) return found;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`no error from ${juliet} within ${timeoutMs} ms`);
  };

  before(async () => {
    sweepStaleNetns();
    scene = await startScene(
      scope,
      [{ kind: "prosody", domain: PARTNER, address: "127.0.0.2", mode: "certificate", users: [alice], partner: { type: "federated", tls: "required", sasl: "optional", dialback: true } }],
      {},
      { replicas: { policy: 2, "edge-listener": 2 } },
    );
    julietUa = await startSipUas(scope, { netns: scene.netns, address: SIP_AGENTS_ADDRESS, port: 5080, user: "juliet", proxy: { address: SIP_PROXY_ADDRESS, port: scene.kamailio.port, domain: GATEWAY_DOMAIN } });
    const server = scene.servers.get(PARTNER);
    assert.ok(server);
    client = await connectXmppClient(scope, { netns: scene.netns, server, ...alice, caFile: scene.ca.certFile, insecureTls: true });
  });

  after(() => scope.close());

  it("the store was seeded from the configuration file: Alice (Federated) reaches Juliet", async () => {
    const listed = json(await http("GET", `/v1/partners/${PARTNER}`));
    assert.equal(listed.type, "federated");
    assert.equal(listed.connectionLimit, 20);
    await client.send(juliet, "Hello Juliet, Alice while Federated");
    await julietUa.waitForMessage("Hello Juliet, Alice while Federated", 30_000);
  });

  it("a request without credentials gets 401 and changes nothing", async () => {
    const before = await http("GET", "/v1/export");
    const auditBefore = json(await http("GET", "/v1/audit?limit=1000")).entries as Json[];
    const refused = await http("PATCH", `/v1/partners/${PARTNER}`, { body: JSON.stringify({ type: "public-unverified" }), contentType: "application/json", token: null });
    assert.equal(refused.status, 401);
    assert.equal(json(refused).error, "unauthorized");
    const wrong = await http("DELETE", `/v1/partners/${PARTNER}`, { token: "not-the-admin-token-0000" });
    assert.equal(wrong.status, 401);
    assert.equal((await http("GET", "/v1/partners", { token: null })).status, 401);
    assert.equal((await http("GET", "/v1/export")).body, before.body);
    assert.equal((json(await http("GET", "/v1/audit?limit=1000")).entries as Json[]).length, auditBefore.length);
  });

  it("an invalid combination gets 400 naming the negotiation matrix row, and changes nothing", async () => {
    const r = await http("PATCH", `/v1/partners/${PARTNER}`, { body: JSON.stringify({ tls: "not-supported", sasl: "required", dialback: false }), contentType: "application/json" });
    assert.equal(r.status, 400);
    assert.equal(json(r).error, "invalid-combination");
    assert.equal(json(r).row, "TLS Not supported / SASL Required / dialback false");
    assert.equal(json(await http("GET", `/v1/partners/${PARTNER}`)).tls, "required");
  });

  it("Federated → Public unverified through the API: Alice's next message is refused with forbidden, at every replica, without restart", async () => {
    const changed = await http("PATCH", `/v1/partners/${PARTNER}`, { body: JSON.stringify({ type: "public-unverified" }), contentType: "application/json" });
    assert.equal(changed.status, 200, changed.body);
    assert.equal((json(changed).partner as Json).type, "public-unverified");
    await appliedEverywhere(await revision());

    // Several messages: the two policy replicas share the inbound work queue; each refuses.
    const seen = client.received().length;
    await client.send(juliet, "Alice, now Public unverified");
    const bounce = await nextErrorFromJuliet(seen);
    assert.match(bounce.xml, /<forbidden xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']/);
    assert.equal(julietUa.messages().some((m) => m.body === "Alice, now Public unverified"), false);

    const audit = (json(await http("GET", "/v1/audit?limit=1")).entries as Json[])[0];
    assert.equal(audit?.action, "partner.update");
    assert.equal(audit?.actor, "admin");
    assert.equal((audit?.before as Json).type, "federated");
    assert.equal((audit?.after as Json).type, "public-unverified");
  });

  it("export → import round trip: the same document changes nothing; an edited one (back to Federated) applies live", async () => {
    const exported = await http("GET", "/v1/export");
    assert.equal(exported.status, 200);
    const same = await http("POST", "/v1/import", { body: exported.body, contentType: "text/yaml" });
    assert.deepEqual(json(same), { added: [], changed: [], removed: [], warnings: [] });

    const doc = parseYaml(exported.body) as { partners: Json[] };
    const edited = stringifyYaml({ ...doc, partners: doc.partners.map((p) => (p.domain === PARTNER ? { ...p, type: "federated" } : p)) });
    const dry = await http("POST", "/v1/import?dryRun=true", { body: edited, contentType: "text/yaml" });
    assert.deepEqual(json(dry).changed, [PARTNER]);
    assert.equal(json(await http("GET", `/v1/partners/${PARTNER}`)).type, "public-unverified");

    const applied = await http("POST", "/v1/import", { body: edited, contentType: "text/yaml" });
    assert.equal(applied.status, 200, applied.body);
    assert.deepEqual(json(applied).changed, [PARTNER]);
    await appliedEverywhere(await revision());
    await client.send(juliet, "Alice, Federated again after the import");
    await julietUa.waitForMessage("Alice, Federated again after the import", 30_000);
  });

  it("a gateway-wide live setting (xmppAccessDefault false) applies to the next stanza; restored, Alice gets through", async () => {
    const off = await http("PATCH", "/v1/settings", { body: JSON.stringify({ xmppAccessDefault: false }), contentType: "application/json" });
    assert.equal(off.status, 200, off.body);
    assert.deepEqual(json(off), { xmppAccessDefault: false });
    await appliedEverywhere(await revision());
    const seen = client.received().length;
    await client.send(juliet, "Alice while nobody has XMPP access");
    // Juliet now has no XMPP access: she looks like a user who does not exist (RFC 6120 §8.5.2.1).
    const bounce = await nextErrorFromJuliet(seen);
    assert.match(bounce.xml, /<service-unavailable xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']/);

    assert.equal((await http("PATCH", "/v1/settings", { body: JSON.stringify({ xmppAccessDefault: true }), contentType: "application/json" })).status, 200);
    await appliedEverywhere(await revision());
    await client.send(juliet, "Alice with XMPP access restored");
    await julietUa.waitForMessage("Alice with XMPP access restored", 30_000);
    assert.equal(julietUa.messages().some((m) => m.body === "Alice while nobody has XMPP access"), false);
  });

  it("new settings that forbid the open connection (SASL now Not supported) close it, naming the change; restored, Alice gets through again", async () => {
    const changed = await http("PATCH", `/v1/partners/${PARTNER}`, { body: JSON.stringify({ sasl: "not-supported" }), contentType: "application/json" });
    assert.equal(changed.status, 200, changed.body);
    const closing = await waitForLogLine(scene, "edge-listener", (l) => l.msg === "closing an inbound stream: the partner entry changed" && /no longer allows SASL/.test(String(l.reason)));
    assert.match(String(closing.reason), /TLS Required \/ SASL Not supported \/ dialback true/);
    // Both ways: our outbound stream to prosody.test (it carried the forbidden bounce) is closed too,
    // by whichever edge replica held it, and Prosody saw each stream end with our stream error.
    const edges = scene.gateway.services.filter((x) => x.name === "edge-listener");
    const outboundClosed = () =>
      edges.some((e) =>
        readFileSync(e.process.logFile, "utf8")
          .split("\n")
          .filter((line) => line.includes("closing an outbound stream: the partner entry changed"))
          .some((line) => /no longer allows SASL/.test(String((JSON.parse(line) as Json).reason))),
      );
    for (let i = 0; i < 100 && !outboundClosed(); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(outboundClosed(), "an edge replica closed its outbound stream to prosody.test");
    const server = scene.servers.get(PARTNER);
    assert.ok(server);
    await server.waitForLog(/Incoming s2s stream gateway\.test->prosody\.test closed: policy-violation \(the partner entry for prosody\.test no longer allows SASL/, 15_000);
    await server.waitForLog(/Outgoing s2s stream prosody\.test->gateway\.test closed: policy-violation \(the partner entry for prosody\.test no longer allows SASL/, 15_000);

    const restored = await http("PATCH", `/v1/partners/${PARTNER}`, { body: JSON.stringify({ sasl: "optional" }), contentType: "application/json" });
    assert.equal(restored.status, 200, restored.body);
    await appliedEverywhere(await revision());
    await client.send(juliet, "Alice on a new stream");
    await julietUa.waitForMessage("Alice on a new stream", 30_000);
  });

  it("the partner removed: its open s2s connections are closed with policy-violation and Alice's next message fails", async () => {
    // The inbound stream from prosody.test is open (the message above used it).
    const removed = await http("DELETE", `/v1/partners/${PARTNER}`);
    assert.equal(removed.status, 204, removed.body);
    const closing = await waitForLogLine(scene, "edge-listener", (l) => l.msg === "closing an inbound stream: the partner entry changed" && /no longer a federated partner/.test(String(l.reason)));
    assert.equal(closing.partner, PARTNER);
    // Prosody received our stream error.
    const server = scene.servers.get(PARTNER);
    assert.ok(server);
    await server.waitForLog(/policy-violation \(prosody\.test is no longer a federated partner of this gateway/, 15_000);

    const seen = client.received().length;
    await client.send(juliet, "Alice after the removal");
    await nextErrorFromJuliet(seen);
    assert.equal(julietUa.messages().some((m) => m.body === "Alice after the removal"), false);
    assert.equal((await http("GET", `/v1/partners/${PARTNER}`)).status, 404);
  });
});
