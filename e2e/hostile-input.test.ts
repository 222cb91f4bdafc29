// Hostile input against the real edge-listener process (with real NATS, Redis, dialback-authority
// and dns-registrar), on 127.0.0.1. Every case opens a well-behaved, authenticated stream from
// partner.test first (STARTTLS + SASL EXTERNAL, packages/s2s), then a hostile connection that must
// be answered with exactly the right stream error (RFC 6120 §4.9.3) and closed; afterwards the
// well-behaved stream still delivers a message, which must land in JetStream (PASSERELLE_INBOUND).
// 38 cases (MISSION.md's bar asks for 27: malformed XML, DTD, entities, comments, PIs, bad
// namespaces, pre-auth stanzas, oversize, deep nesting, dialback forgery, unsolicited verify,
// spoofed from, STARTTLS skipped, a second stream header inside an open stream, text between
// stanzas with no '<' after it, and more). A second suite checks the idle timeouts.
//
//   partner.test   federated, TLS required, SASL optional, dialback  (the well-behaved partner)
//   plain.test     federated, no TLS, no SASL, dialback — and no real server: dial-backs fail
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import type { RawConfig } from "@passerelle/config";
import { startGateway, type Gateway, type RunningService } from "@passerelle/launcher";
import { createScope, createTestCa, freePort, startNats, startRedis, type CertificateFiles, type TestCa } from "@passerelle/testkit";
import { NS } from "@passerelle/xmpp";
import { INBOUND_STREAM, subjects } from "@passerelle/contracts";
import { connectNats, ensureInboundStream } from "@passerelle/runtime";
import { connectS2S, type S2SConnection } from "@passerelle/s2s";
import { createLogger } from "@passerelle/telemetry";
import { RawS2SClient, s2sHeader, type TlsIdentity } from "./lib/raw-s2s-client.ts";

const HOST = "127.0.0.1";
const GATEWAY = "gateway.test";
const PARTNER = "partner.test";
const PLAIN = "plain.test";
const MAX_STANZA_BYTES = 64 * 1024;
const PRE_AUTH_BYTES = 16 * 1024;
const MAX_DEPTH = 64;
const ESTABLISHMENT_SECONDS = 2;
const WAIT_MS = 8000;

type JetStreamManager = Awaited<ReturnType<typeof ensureInboundStream>>;
type NatsConnection = Awaited<ReturnType<typeof connectNats>>;

interface Expectation {
  condition: string;
  text?: RegExp;
  /** XEP-0182 application condition in urn:xmpp:errors. */
  app?: string;
  /** How long after the attack the error may come, when that matters (timeouts). */
  withinMs?: [number, number];
}

describe("hostile input at the edge: every attack gets its stream error, the edge never falls", { timeout: 300_000 }, () => {
  const scope = createScope("hostile-input");
  let ca: TestCa;
  let partnerCert: CertificateFiles;
  let identity: TlsIdentity;
  let gateway: Gateway;
  let edge: RunningService;
  let edgePort: number;
  let nc: NatsConnection | undefined;
  let jsm: JetStreamManager;
  const expectedConditions = new Map<string, number>();
  let cases = 0;
  let answered = 0;

  before(async () => {
    ca = await createTestCa(scope.dir("pki"));
    const gatewayCert = await ca.issue({ domains: [GATEWAY], srvId: true });
    partnerCert = await ca.issue({ domains: [PARTNER], srvId: true });
    identity = { cert: readFileSync(partnerCert.certFile), key: readFileSync(partnerCert.keyFile), ca: readFileSync(ca.certFile) };
    const [nats, redis] = await Promise.all([startNats(scope, { host: HOST }), startRedis(scope, { host: HOST })]);
    edgePort = await freePort(HOST);
    const http = async () => ({ http: { host: HOST, port: await freePort(HOST) } });
    // Nothing listens there: plain.test's "authoritative server" and the DNS server are dead ends.
    const deadPort = await freePort(HOST);
    const config: RawConfig = {
      domains: [{ xmpp: GATEWAY }],
      gateway: {
        edgeFqdn: GATEWAY,
        dialback: { secret: "hostile-input-dialback-secret-0123" },
        limits: { maxStanzaBytes: MAX_STANZA_BYTES, preAuthBytes: PRE_AUTH_BYTES, maxDepth: MAX_DEPTH },
        timeouts: { streamEstablishment: ESTABLISHMENT_SECONDS },
      },
      edge: { listen: { host: HOST, port: edgePort }, tls: { certFile: gatewayCert.certFile, keyFile: gatewayCert.keyFile, caFile: ca.certFile } },
      nats: { url: nats.url },
      redis: { url: redis.url },
      dns: { server: `${HOST}:${deadPort}` },
      sip: { proxy: { host: HOST, port: await freePort(HOST) }, listen: { host: HOST, port: await freePort(HOST) } },
      partners: [
        { domain: PARTNER, type: "federated", tls: "required", sasl: "optional", dialback: true },
        { domain: PLAIN, type: "federated", tls: "not-supported", sasl: "not-supported", dialback: true, proxyFqdn: HOST, proxyPort: deadPort },
      ],
      services: {
        edgeListener: await http(),
        dialbackAuthority: await http(),
        policy: await http(),
        sipTranslator: await http(),
        dnsRegistrar: await http(),
      },
    };
    gateway = await startGateway(scope, { config, replicas: { "edge-listener": 1, "dialback-authority": 1, "dns-registrar": 1 }, env: { LOG_LEVEL: "debug" } });
    const found = gateway.services.find((s) => s.name === "edge-listener");
    assert.ok(found, "the edge-listener runs");
    edge = found;
    const connection = await connectNats(nats.url, "hostile-input-test", createLogger("hostile-input-test", "warn"));
    nc = connection;
    scope.defer("nats client", () => connection.close());
    jsm = await ensureInboundStream(connection);
  });

  after(async () => {
    const alive = edge !== undefined && edge.process.exitInfo() === undefined;
    console.log(`hostile input: ${answered}/${cases} answered with a stream error, ${alive ? "no crash" : "THE EDGE EXITED"}`);
    await scope.close();
  });

  /** The well-behaved partner: STARTTLS + SASL EXTERNAL as partner.test. */
  const openGood = (): Promise<S2SConnection> =>
    connectS2S({
      localDomain: PARTNER,
      remoteDomain: GATEWAY,
      targets: [{ host: HOST, port: edgePort, directTls: false }],
      tls: "required",
      tlsMaterial: { cert: identity.cert, key: identity.key, ca: identity.ca },
      sasl: "required",
      dialback: false,
      timeouts: { connectMs: 5000, establishmentMs: WAIT_MS },
      limits: { maxStanzaBytes: 1024 * 1024, maxDepth: 64, maxAttributesPerElement: 64, maxHeaderBytes: 16384 },
    });

  /** Sends a chat message on the good stream and waits (bounded) until JetStream holds it. */
  async function deliver(good: S2SConnection, label: string): Promise<void> {
    const before = (await jsm.streams.info(INBOUND_STREAM)).state.messages;
    const body = `still here after ${label} ${Math.random().toString(36).slice(2)}`;
    const sent = good.send(`<message from='romeo@${PARTNER}' to='juliet@${GATEWAY}' type='chat'><body>${body}</body></message>`);
    assert.ok(sent, "the good stream takes the message");
    const deadline = Date.now() + WAIT_MS;
    let last = "nothing";
    while (Date.now() < deadline) {
      const stored = await jsm.streams.getMessage(INBOUND_STREAM, { last_by_subj: subjects.inboundStanza(PARTNER) });
      if (stored !== null) {
        const payload = stored.json<{ xml: string; from: string; to: string }>();
        last = payload.xml;
        if (payload.xml.includes(body)) {
          assert.equal(payload.from, `romeo@${PARTNER}`);
          assert.equal(payload.to, `juliet@${GATEWAY}`);
          const after = (await jsm.streams.info(INBOUND_STREAM)).state.messages;
          assert.ok(after > before, `PASSERELLE_INBOUND grew (${before} → ${after})`);
          return;
        }
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.fail(`the good stream's message never reached ${INBOUND_STREAM} (last stored: ${last})`);
  }

  /** One hostile case: good stream first, then the attack, its stream error, the close, then the good stream again. */
  function hostile(name: string, expect: Expectation, attack: (c: RawS2SClient) => Promise<void>): void {
    cases++;
    const label = expect.app ?? expect.condition;
    expectedConditions.set(label, (expectedConditions.get(label) ?? 0) + 1);
    it(`${name} → ${expect.condition}${expect.app === undefined ? "" : ` + ${expect.app}`}`, async () => {
      const good = await openGood();
      const goodTrouble: string[] = [];
      good.on("error", (err) => goodTrouble.push(err.message));
      good.on("close", (info) => goodTrouble.push(`closed${info.error === undefined ? "" : `: ${info.error.message}`}`));
      const client = await RawS2SClient.connect(HOST, edgePort);
      try {
        const started = Date.now();
        await attack(client);
        const error = await client.streamError(WAIT_MS);
        const elapsed = Date.now() - started;
        const seen = `received: ${client.transcript.slice(0, 1500)}`;
        assert.equal(error.condition, expect.condition, seen);
        if (expect.text !== undefined) assert.match(error.text ?? "", expect.text, seen);
        if (expect.app !== undefined) {
          assert.equal(error.appCondition, expect.app, seen);
          assert.equal(error.appNamespace, NS.appErrors);
        } else {
          assert.equal(error.appCondition, undefined, seen);
        }
        if (expect.withinMs !== undefined) {
          assert.ok(elapsed >= expect.withinMs[0] && elapsed <= expect.withinMs[1], `the error came after ${elapsed} ms, expected ${expect.withinMs.join("–")} ms`);
        }
        assert.match(client.transcript, /<\/stream:stream>\s*$/, "the error is followed by the stream close");
        await client.waitClosed(WAIT_MS);
        assert.equal(client.parseProblem, undefined, "the edge only ever sends well-formed XML");
        assert.equal(edge.process.exitInfo(), undefined, "the edge-listener is still running");
        // The stream opened before the attack still works.
        await deliver(good, name);
        assert.deepEqual(goodTrouble, [], "no stream error on the good stream");
        answered++;
      } finally {
        client.destroy();
        await good.close(3000);
      }
    });
  }

  const plainHeader = s2sHeader({ from: PLAIN, to: GATEWAY });
  const partnerHeader = s2sHeader({ from: PARTNER, to: GATEWAY });
  const chat = (from: string, body = "hello") => `<message from='${from}' to='juliet@${GATEWAY}' type='chat'><body>${body}</body></message>`;
  const authenticated = (c: RawS2SClient) => c.authenticate({ from: PARTNER, to: GATEWAY, identity, timeoutMs: WAIT_MS });
  const features = (c: RawS2SClient) => c.nextElement((e) => e.is("features", NS.streams), WAIT_MS, "stream features");

  hostile("malformed XML (mismatched end tag)", { condition: "not-well-formed" }, async (c) => {
    c.send(plainHeader);
    await features(c);
    c.send(`<message from='romeo@${PLAIN}' to='juliet@${GATEWAY}'><body>hi</message>`);
  });

  hostile("a DTD with an entity declaration", { condition: "restricted-xml", text: /DTD/ }, async (c) => {
    c.send(`<?xml version='1.0'?><!DOCTYPE stream:stream [<!ENTITY xxe SYSTEM 'file:///etc/passwd'>]>${plainHeader.replace("<?xml version='1.0'?>", "")}`);
  });

  hostile("an undefined entity reference", { condition: "restricted-xml", text: /entity/ }, async (c) => {
    c.send(plainHeader);
    await features(c);
    c.send(chat(`romeo@${PLAIN}`, "&xxe;"));
  });

  hostile("billion laughs", { condition: "restricted-xml", text: /DTD/ }, async (c) => {
    const entities = ["<!ENTITY lol0 'lol'>"];
    for (let i = 1; i <= 9; i++) entities.push(`<!ENTITY lol${i} '${`&lol${i - 1};`.repeat(10)}'>`);
    c.send(`<?xml version='1.0'?><!DOCTYPE lolz [${entities.join("")}]>`);
    c.send(plainHeader.replace("<?xml version='1.0'?>", ""));
    c.send(chat(`romeo@${PLAIN}`, "&lol9;"));
  });

  hostile("a comment", { condition: "restricted-xml", text: /comment/ }, async (c) => {
    c.send(plainHeader);
    await features(c);
    c.send("<!-- a comment is not allowed in XMPP -->");
  });

  hostile("a processing instruction", { condition: "restricted-xml", text: /processing instruction/ }, async (c) => {
    c.send(plainHeader);
    await features(c);
    c.send("<?xml-stylesheet href='evil.xsl'?>");
  });

  hostile("an oversized stanza after authentication", { condition: "policy-violation", text: /too big/, app: "stanza-too-big" }, async (c) => {
    await authenticated(c);
    c.send(chat(`romeo@${PARTNER}`, "A".repeat(MAX_STANZA_BYTES + 4096)));
  });

  hostile("5,000-deep nesting after authentication", { condition: "policy-violation", text: /nesting/ }, async (c) => {
    await authenticated(c);
    c.send(`<message from='romeo@${PARTNER}' to='juliet@${GATEWAY}' type='chat'>${"<a>".repeat(5000)}${"</a>".repeat(5000)}</message>`);
  });

  hostile("a wrong stream namespace", { condition: "invalid-namespace" }, async (c) => {
    c.send(plainHeader.replace("http://etherx.jabber.org/streams", "http://example.com/not-streams"));
  });

  hostile("a wrong default namespace (jabber:client)", { condition: "invalid-namespace" }, async (c) => {
    c.send(plainHeader.replace("xmlns='jabber:server'", "xmlns='jabber:client'"));
  });

  hostile("a header without 'from'", { condition: "invalid-from" }, async (c) => {
    c.send(s2sHeader({ to: GATEWAY }));
  });

  hostile("a header from an unknown domain", { condition: "policy-violation", text: /stranger\.test is not a federated partner/ }, async (c) => {
    c.send(s2sHeader({ from: "stranger.test", to: GATEWAY }));
  });

  hostile("a header 'to' a domain not served here", { condition: "host-unknown", text: /elsewhere\.test/ }, async (c) => {
    c.send(s2sHeader({ from: PARTNER, to: "elsewhere.test" }));
  });

  hostile("an unsupported stream version", { condition: "unsupported-version" }, async (c) => {
    c.send(s2sHeader({ from: PLAIN, to: GATEWAY, version: "2.0" }));
  });

  hostile("a stanza before authentication", { condition: "not-authorized" }, async (c) => {
    c.send(plainHeader);
    await features(c);
    c.send(chat(`romeo@${PLAIN}`));
  });

  hostile("a spoofed 'from' after authentication", { condition: "invalid-from", text: /evil\.test/ }, async (c) => {
    await authenticated(c);
    c.send(chat("mallory@evil.test"));
  });

  hostile("a stanza without 'to' after authentication", { condition: "improper-addressing" }, async (c) => {
    await authenticated(c);
    c.send(`<message from='romeo@${PARTNER}' type='chat'><body>to whom?</body></message>`);
  });

  hostile("STARTTLS skipped where it is required", { condition: "policy-violation", text: /STARTTLS/ }, async (c) => {
    c.send(partnerHeader);
    await features(c);
    c.send(`<db:result from='${PARTNER}' to='${GATEWAY}'>${"ab".repeat(32)}</db:result>`);
  });

  hostile("a forged dialback key from plain.test", { condition: "not-authorized", text: /dialback for plain\.test failed/ }, async (c) => {
    c.send(plainHeader);
    await features(c);
    c.send(`<db:result from='${PLAIN}' to='${GATEWAY}'>${"0f".repeat(32)}</db:result>`);
    const verdict = await c.nextElement((e) => e.is("result", NS.dialback), WAIT_MS, "the db:result verdict");
    assert.equal(verdict.attrs.type, "invalid", verdict.toString());
    assert.equal(verdict.attrs.from, GATEWAY);
    assert.equal(verdict.attrs.to, PLAIN);
  });

  hostile("an unsolicited db:verify answer", { condition: "not-authorized", text: /unsolicited/ }, async (c) => {
    c.send(plainHeader);
    await features(c);
    c.send(`<db:verify from='${PLAIN}' to='${GATEWAY}' id='made-up-stream-id' type='valid'/>`);
  });

  hostile("a stanza smuggled in plaintext after <starttls/> (never read; later stanzas still need auth)", { condition: "not-authorized", text: /before authentication/ }, async (c) => {
    // CVE-2011-0411-style injection: bytes pipelined after <starttls/> must not count as protected.
    await c.startTls({ from: PARTNER, to: GATEWAY, identity, timeoutMs: WAIT_MS, pipelined: chat(`romeo@${PARTNER}`, "smuggled before TLS") });
    assert.doesNotMatch(c.transcript, /stream:error/, "the smuggled stanza was not read: TLS went on");
    c.send(chat(`romeo@${PARTNER}`, "after TLS, without authentication"));
  });

  hostile("too many bytes before authentication", { condition: "policy-violation", text: /before authentication/ }, async (c) => {
    c.send(plainHeader);
    await features(c);
    // Whitespace keepalives are legal XML: only the pre-authentication budget stops them.
    c.send(" ".repeat(PRE_AUTH_BYTES + 1024));
  });

  hostile("invalid UTF-8", { condition: "unsupported-encoding" }, async (c) => {
    c.send(plainHeader);
    await features(c);
    c.send(Buffer.concat([Buffer.from(`<message from='romeo@${PLAIN}' to='juliet@${GATEWAY}'><body>`), Buffer.from([0xc3, 0x28, 0xff, 0xfe]), Buffer.from("</body></message>")]));
  });

  hostile("a stanza before the stream header", { condition: "invalid-namespace", text: /not a stream:stream/ }, async (c) => {
    c.send(chat(`romeo@${PLAIN}`));
  });

  hostile("an XML declaration naming another encoding", { condition: "unsupported-encoding" }, async (c) => {
    c.send(`<?xml version='1.0' encoding='ISO-8859-1'?>${plainHeader.replace("<?xml version='1.0'?>", "")}`);
  });

  hostile("a huge attribute in the stream header", { condition: "policy-violation", text: /header too big/ }, async (c) => {
    c.send(s2sHeader({ from: PLAIN, to: GATEWAY }).replace("version='1.0'>", `version='1.0' x-pad='${"x".repeat(8192)}'>`));
  });

  hostile("a NUL character in a stanza", { condition: "not-well-formed" }, async (c) => {
    c.send(plainHeader);
    await features(c);
    c.send(chat(`romeo@${PLAIN}`, "nul\u0000here"));
  });

  hostile("text between stanzas", { condition: "bad-format", text: /text between stanzas/ }, async (c) => {
    c.send(plainHeader);
    await features(c);
    c.send(`not a stanza, just text<presence from='romeo@${PLAIN}' to='juliet@${GATEWAY}'/>`);
  });

  hostile("text between stanzas with no markup after it, after authentication", { condition: "bad-format", text: /text between stanzas/ }, async (c) => {
    await authenticated(c);
    c.send(chat(`romeo@${PARTNER}`, "a real stanza first"));
    c.send(" ");
    // Refused when it arrives: no later "<" and no timeout needed (the inactivity timeout is 600 s).
    c.send("not a stanza, and nothing after it");
  });

  hostile("a second stream header inside the authenticated stream (no restart was asked for)", { condition: "bad-format", text: /stream header inside an open stream/ }, async (c) => {
    await authenticated(c);
    // Without the XML declaration: only the start tag, which the parser would otherwise hold as an unfinished element.
    c.send(partnerHeader.replace("<?xml version='1.0'?>", ""));
  });

  hostile("an unbound namespace prefix", { condition: "bad-namespace-prefix" }, async (c) => {
    c.send(plainHeader);
    await features(c);
    c.send(`<evil:message from='romeo@${PLAIN}' to='juliet@${GATEWAY}'/>`);
  });

  hostile("too many attributes on one element", { condition: "policy-violation", text: /too many attributes/ }, async (c) => {
    c.send(plainHeader);
    await features(c);
    const attrs = Array.from({ length: 200 }, (_, i) => `a${i}='v'`).join(" ");
    c.send(`<message from='romeo@${PLAIN}' to='juliet@${GATEWAY}' ${attrs}/>`);
  });

  hostile("SASL before STARTTLS where TLS is required", { condition: "policy-violation", text: /STARTTLS/ }, async (c) => {
    c.send(partnerHeader);
    await features(c);
    c.send(`<auth xmlns='${NS.sasl}' mechanism='EXTERNAL'>=</auth>`);
  });

  hostile("STARTTLS again over TLS", { condition: "policy-violation", text: /STARTTLS is not available/ }, async (c) => {
    await c.startTls({ from: PARTNER, to: GATEWAY, identity, timeoutMs: WAIT_MS });
    c.send(`<starttls xmlns='${NS.tls}'/>`);
  });

  hostile("a stanza from another partner's domain, not authenticated on this stream", { condition: "invalid-from", text: /plain\.test is not authenticated/ }, async (c) => {
    await authenticated(c);
    c.send(chat(`romeo@${PLAIN}`));
  });

  hostile("a stanza in jabber:client after authentication", { condition: "invalid-namespace" }, async (c) => {
    await authenticated(c);
    c.send(`<message xmlns='jabber:client' from='romeo@${PARTNER}' to='juliet@${GATEWAY}' type='chat'><body>c2s?</body></message>`);
  });

  hostile("an unknown top-level element after authentication", { condition: "unsupported-stanza-type" }, async (c) => {
    await authenticated(c);
    c.send(`<query xmlns='jabber:iq:roster'/>`);
  });

  hostile(
    `the stream establishment timeout (${ESTABLISHMENT_SECONDS} s)`,
    { condition: "connection-timeout", withinMs: [ESTABLISHMENT_SECONDS * 1000 - 500, ESTABLISHMENT_SECONDS * 1000 + 3000] },
    async (c) => {
      // A header, then nothing: the edge must give up on its own.
      c.send(plainHeader);
      await features(c);
    },
  );

  it("afterwards: /metrics counts every refusal by condition, and the edge-listener never exited", async () => {
    const response = await fetch(`${edge.httpUrl}/metrics`, { signal: AbortSignal.timeout(5000) });
    assert.equal(response.status, 200);
    const text = await response.text();
    const counts = new Map<string, number>();
    for (const m of text.matchAll(/^passerelle_edge_stream_errors_total\{([^}]*)\} (\S+)$/gm)) {
      const condition = /(?:^|,)condition="([^"]+)"/.exec(m[1] ?? "")?.[1];
      if (condition !== undefined) counts.set(condition, (counts.get(condition) ?? 0) + Number(m[2]));
    }
    for (const [condition, expected] of expectedConditions) {
      assert.ok((counts.get(condition) ?? 0) >= expected, `passerelle_edge_stream_errors_total{condition="${condition}"} is ${counts.get(condition) ?? 0}, expected ≥ ${expected}\n${text}`);
    }
    assert.equal(edge.process.exitInfo(), undefined, "the edge-listener never exited");
    assert.ok(nc !== undefined);
  });
});

// MISSION.md's bar: idle connections are closed at the configured timeouts — the stream
// establishment timeout before authentication (60 s by default), the inactivity timeout after
// (600 s by default). Here both are short, on an edge of its own (NATS and Redis only).
describe("idle connections: closed at the establishment timeout before authentication, at the inactivity timeout after", { timeout: 120_000 }, () => {
  const scope = createScope("idle-timeouts");
  const ESTABLISH_S = 2;
  const INACTIVE_S = 4;
  let identity: TlsIdentity;
  let edge: RunningService;
  let edgePort: number;

  before(async () => {
    const ca = await createTestCa(scope.dir("pki"));
    const gatewayCert = await ca.issue({ domains: [GATEWAY], srvId: true });
    const partnerCert = await ca.issue({ domains: [PARTNER], srvId: true });
    identity = { cert: readFileSync(partnerCert.certFile), key: readFileSync(partnerCert.keyFile), ca: readFileSync(ca.certFile) };
    const [nats, redis] = await Promise.all([startNats(scope, { host: HOST }), startRedis(scope, { host: HOST })]);
    edgePort = await freePort(HOST);
    const http = async () => ({ http: { host: HOST, port: await freePort(HOST) } });
    const deadPort = await freePort(HOST);
    const config: RawConfig = {
      domains: [{ xmpp: GATEWAY }],
      gateway: {
        edgeFqdn: GATEWAY,
        dialback: { secret: "idle-timeouts-dialback-secret-0123" },
        timeouts: { streamEstablishment: ESTABLISH_S, streamInactivity: INACTIVE_S },
      },
      edge: { listen: { host: HOST, port: edgePort }, tls: { certFile: gatewayCert.certFile, keyFile: gatewayCert.keyFile, caFile: ca.certFile } },
      nats: { url: nats.url },
      redis: { url: redis.url },
      dns: { server: `${HOST}:${deadPort}` },
      sip: { proxy: { host: HOST, port: await freePort(HOST) }, listen: { host: HOST, port: await freePort(HOST) } },
      partners: [{ domain: PARTNER, type: "federated", tls: "required", sasl: "required", dialback: false }],
      services: {
        edgeListener: await http(),
        dialbackAuthority: await http(),
        policy: await http(),
        sipTranslator: await http(),
        dnsRegistrar: await http(),
      },
    };
    const gateway = await startGateway(scope, { config, replicas: { "edge-listener": 1 } });
    const found = gateway.services.find((s) => s.name === "edge-listener");
    assert.ok(found, "the edge-listener runs");
    edge = found;
  });

  after(() => scope.close());

  const keepalive = (c: RawS2SClient, everyMs: number): NodeJS.Timeout => setInterval(() => c.send(" "), everyMs);

  it(`a stream that does not authenticate is closed at the establishment timeout (${ESTABLISH_S} s), whitespace keepalives notwithstanding`, async () => {
    const c = await RawS2SClient.connect(HOST, edgePort);
    const timer = keepalive(c, 500);
    try {
      const started = Date.now();
      await c.startTls({ from: PARTNER, to: GATEWAY, identity, timeoutMs: WAIT_MS });
      const error = await c.streamError(ESTABLISH_S * 1000 + WAIT_MS);
      const elapsed = Date.now() - started;
      assert.equal(error.condition, "connection-timeout", c.transcript);
      assert.match(error.text ?? "", /not established in time/);
      assert.ok(elapsed >= ESTABLISH_S * 1000 - 500 && elapsed < INACTIVE_S * 1000, `closed after ${elapsed} ms`);
      await c.waitClosed(WAIT_MS);
    } finally {
      clearInterval(timer);
      c.destroy();
    }
  });

  it(`an authenticated stream outlives the establishment timeout and is closed after ${INACTIVE_S} s of silence`, async () => {
    const c = await RawS2SClient.connect(HOST, edgePort);
    try {
      await c.authenticate({ from: PARTNER, to: GATEWAY, identity, timeoutMs: WAIT_MS });
      const silentSince = Date.now();
      const error = await c.streamError(INACTIVE_S * 1000 + WAIT_MS);
      const elapsed = Date.now() - silentSince;
      assert.equal(error.condition, "connection-timeout", c.transcript);
      assert.match(error.text ?? "", /inactivity/);
      assert.ok(elapsed >= INACTIVE_S * 1000 - 500, `closed after ${elapsed} ms of silence, before the inactivity timeout`);
      await c.waitClosed(WAIT_MS);
      assert.equal(edge.process.exitInfo(), undefined, "the edge-listener is still running");
    } finally {
      c.destroy();
    }
  });

  it("an authenticated stream with whitespace keepalives stays open past the inactivity timeout", async () => {
    const c = await RawS2SClient.connect(HOST, edgePort);
    const timer = keepalive(c, 1000);
    try {
      await c.authenticate({ from: PARTNER, to: GATEWAY, identity, timeoutMs: WAIT_MS });
      await new Promise((r) => setTimeout(r, (INACTIVE_S + 2) * 1000));
      assert.equal(c.closed, false, `the stream was closed: ${c.transcript}`);
      assert.doesNotMatch(c.transcript, /stream:error/);
    } finally {
      clearInterval(timer);
      c.destroy();
    }
  });
});
