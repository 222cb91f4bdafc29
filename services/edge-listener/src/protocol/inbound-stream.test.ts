// Inbound s2s negotiation, read as conversations: "partner sends … gateway answers …".
// The transport is a fake (this is a unit test); e2e/ runs the same paths against real Prosody.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { validateConfig, PartnerDirectory, type RawConfig } from "@passerelle/config";
import { InboundStream, streamHeaderEnd, type AcceptedStanza, type InboundStreamDeps, type PeerTls } from "./inbound-stream.ts";

const HEADER = (from: string | undefined, to = "gateway.test", extra = "") =>
  `<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback'` +
  `${from === undefined ? "" : ` from='${from}'`} to='${to}' version='1.0'${extra}>`;

function config(partners: RawConfig["partners"]) {
  return validateConfig({
    domains: [{ xmpp: "gateway.test" }],
    gateway: { edgeFqdn: "edge.gateway.test", dialback: { secret: "s3cret-s3cret-s3cret" } },
    sip: { proxy: { host: "127.0.0.4" } },
    partners,
  });
}

const partners = config([
  { domain: "dialback.test", type: "federated", tls: "not-supported", sasl: "not-supported", dialback: true },
  { domain: "secure.test", type: "federated", tls: "required", sasl: "required", dialback: false, additionalDomains: ["chat.secure.test"] },
  { domain: "either.test", type: "public-verified", tls: "required", sasl: "optional", dialback: true },
]).partners;

interface Harness {
  stream: InboundStream;
  written: string[];
  accepted: AcceptedStanza[];
  refused: { condition: string; reason: string }[];
  closed: boolean;
  authenticated: string[];
  send(text: string): Promise<void>;
  output(): string;
}

function harness(overrides: Partial<InboundStreamDeps> = {}, peerTls: Partial<PeerTls> = {}): Harness {
  const directory = new PartnerDirectory(partners);
  const h: Harness = {
    written: [],
    accepted: [],
    refused: [],
    closed: false,
    authenticated: [],
    stream: undefined as unknown as InboundStream,
    async send(text: string) {
      h.stream.receive(Buffer.from(text));
      // Let dialback promises and TLS upgrades settle.
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    },
    // ltx writes attributes in double quotes, our headers in single ones: compare one way.
    output: () => h.written.join("").replaceAll('"', "'"),
  };
  let ids = 0;
  h.stream = new InboundStream({
    transport: {
      remoteAddress: "127.0.0.2",
      write: (data) => h.written.push(data),
      close: () => {
        h.closed = true;
      },
      startTls: async () => ({ authorized: true, matchesDomain: (d) => d === "secure.test" || d === "either.test", ...peerTls }),
    },
    localDomains: new Set(["gateway.test"]),
    findPartner: (d) => directory.find(d),
    tlsAvailable: true,
    limits: { maxStanzaBytes: 4096, maxDepth: 16, maxAttributesPerElement: 16, maxHeaderBytes: 2048, preAuthBytes: 8192 },
    newStreamId: () => `id${++ids}`,
    authorizeDialback: async ({ key }) => ({ valid: key === "good-key", reason: key === "good-key" ? undefined : "key mismatch" }),
    verifyDialback: async ({ key }) => ({ valid: key === "our-key" }),
    accept: (s) => h.accepted.push(s),
    events: {
      authenticated: (i) => h.authenticated.push(`${i.domain}/${i.method}`),
      refused: (i) => h.refused.push({ condition: i.condition, reason: i.reason }),
      closed: () => {
        h.closed = true;
      },
    },
    ...overrides,
  });
  return h;
}

const MSG = (from: string, to = "juliet@gateway.test", body = "hello") =>
  `<message from='${from}' to='${to}' type='chat' id='m1'><body>${body}</body></message>`;

/** Authenticate dialback.test by dialback over TCP. */
async function dialbackSession(): Promise<Harness> {
  const h = harness();
  await h.send(HEADER("dialback.test"));
  await h.send("<db:result from='dialback.test' to='gateway.test'>good-key</db:result>");
  assert.deepEqual(h.authenticated, ["dialback.test/dialback"]);
  return h;
}

function assertStreamError(h: Harness, condition: string) {
  assert.ok(h.closed, "the stream is closed");
  assert.match(h.output(), new RegExp(`<stream:error><${condition} xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>`), h.output());
  assert.match(h.output(), /<\/stream:stream>$/);
  assert.equal(h.accepted.length, 0, "nothing was accepted");
}

describe("good paths", () => {
  test("dialback over TCP: partner sends db:result, gateway checks it and accepts stanzas", async () => {
    const h = await dialbackSession();
    assert.match(h.output(), /<stream:stream [^>]*from='gateway.test' to='dialback.test' id='id1' version='1.0'/);
    assert.match(h.output(), /<dialback xmlns='urn:xmpp:features:dialback'><errors\/><\/dialback>/);
    assert.doesNotMatch(h.output(), /starttls/, "TLS Not supported: no STARTTLS offered");
    assert.match(h.output(), /<db:result from='gateway.test' to='dialback.test' type='valid'\/>/);
    await h.send(MSG("romeo@dialback.test/balcony"));
    assert.equal(h.accepted.length, 1);
    assert.deepEqual(
      { from: h.accepted[0]?.from, to: h.accepted[0]?.to, kind: h.accepted[0]?.kind, partner: h.accepted[0]?.partnerDomain },
      { from: "romeo@dialback.test/balcony", to: "juliet@gateway.test", kind: "message", partner: "dialback.test" },
    );
    assert.equal(h.accepted[0]?.element.getChildText("body"), "hello");
  });

  test("SASL EXTERNAL over TLS: STARTTLS required, then EXTERNAL, then stanzas", async () => {
    const h = harness();
    await h.send(HEADER("secure.test"));
    assert.match(h.output(), /<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required\/><\/starttls>/);
    assert.doesNotMatch(h.output(), /mechanisms|dialback xmlns/);
    await h.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    assert.match(h.output(), /<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'\/>$/);
    await h.send(HEADER("secure.test"));
    assert.match(h.output(), /<mechanism>EXTERNAL<\/mechanism>/);
    assert.doesNotMatch(h.output().split("<proceed")[1] ?? "", /dialback xmlns/, "dialback not offered: SASL Required");
    await h.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>${Buffer.from("secure.test").toString("base64")}</auth>`);
    assert.match(h.output(), /<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'\/>$/);
    await h.send(HEADER("secure.test"));
    await h.send(MSG("romeo@secure.test"));
    assert.deepEqual(h.authenticated, ["secure.test/sasl-external"]);
    assert.equal(h.accepted.length, 1);
  });

  test("dialback over TLS when the certificate is not trusted", async () => {
    const h = harness({}, { authorized: false, authorizationError: "SELF_SIGNED_CERT_IN_CHAIN" });
    await h.send(HEADER("either.test"));
    await h.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    await h.send(HEADER("either.test"));
    const afterTls = h.output().split("<proceed")[1] ?? "";
    assert.doesNotMatch(afterTls, /EXTERNAL/, "EXTERNAL not offered for an untrusted certificate");
    assert.match(afterTls, /<dialback xmlns='urn:xmpp:features:dialback'>/);
    await h.send("<db:result from='either.test' to='gateway.test'>good-key</db:result>");
    await h.send(MSG("romeo@either.test"));
    assert.equal(h.accepted.length, 1);
  });

  test("whitespace keepalives between stanzas are accepted", async () => {
    const h = await dialbackSession();
    await h.send(" \n ");
    await h.send(MSG("romeo@dialback.test"));
    await h.send("\n");
    assert.equal(h.accepted.length, 1);
    assert.equal(h.closed, false);
  });

  test("we answer a partner's db:verify for a key we made, and refuse a wrong one", async () => {
    const h = harness();
    await h.send(HEADER("dialback.test"));
    await h.send("<db:verify from='dialback.test' to='gateway.test' id='abc'>our-key</db:verify>");
    assert.match(h.output(), /<db:verify from='gateway.test' to='dialback.test' id='abc' type='valid'\/>/);
    await h.send("<db:verify from='dialback.test' to='gateway.test' id='abd'>forged</db:verify>");
    assert.match(h.output(), /<db:verify from='gateway.test' to='dialback.test' id='abd' type='invalid'\/>/);
  });

  test("the partner closes the stream: we close ours", async () => {
    const h = await dialbackSession();
    await h.send("</stream:stream>");
    assert.ok(h.closed);
    assert.match(h.output(), /<\/stream:stream>$/);
  });
});

describe("bad input: each refused with its stream error", () => {
  const cases: [string, string, string][] = [
    ["malformed XML", "<message><body>x</bdy></message>", "not-well-formed"],
    ["a DTD with an entity", "<!DOCTYPE x [<!ENTITY a 'b'>]>", "restricted-xml"],
    ["a comment", "<!-- hi -->", "restricted-xml"],
    ["a processing instruction", "<?evil data?>", "restricted-xml"],
    ["an undefined entity", "<message from='romeo@dialback.test' to='juliet@gateway.test'><body>&lol;</body></message>", "restricted-xml"],
    ["an oversized stanza", MSG("romeo@dialback.test", "juliet@gateway.test", "x".repeat(5000)), "policy-violation"],
    ["deep nesting", `<message from='romeo@dialback.test' to='juliet@gateway.test'>${"<a>".repeat(5000)}`, "policy-violation"],
    ["a spoofed from", MSG("mallory@evil.test"), "invalid-from"],
    ["a stanza to a domain we do not serve", MSG("romeo@dialback.test", "juliet@elsewhere.test"), "host-unknown"],
    ["a stanza without to", "<message from='romeo@dialback.test'><body>x</body></message>", "improper-addressing"],
    ["a stanza in the wrong namespace", "<message xmlns='jabber:client' from='romeo@dialback.test' to='juliet@gateway.test'/>", "invalid-namespace"],
    ["a non-stanza element", "<foo xmlns='urn:example'/>", "unsupported-stanza-type"],
    ["an unsolicited db:verify answer", "<db:verify from='dialback.test' to='gateway.test' id='x' type='valid'/>", "not-authorized"],
  ];
  for (const [name, input, condition] of cases) {
    test(`after authentication: ${name} → ${condition}`, async () => {
      const h = await dialbackSession();
      await h.send(input);
      assert.ok(h.closed);
      assert.match(h.output(), new RegExp(`<stream:error><${condition} `), h.output());
      assert.equal(h.accepted.length, 0);
    });
  }

  test("oversized stanza carries stanza-too-big", async () => {
    const h = await dialbackSession();
    await h.send(MSG("romeo@dialback.test", "juliet@gateway.test", "x".repeat(5000)));
    assert.match(h.output(), /<stanza-too-big xmlns='urn:xmpp:errors'\/>/);
  });

  test("wrong stream namespace → invalid-namespace", async () => {
    const h = harness();
    await h.send("<stream:stream xmlns='jabber:server' xmlns:stream='urn:wrong' from='dialback.test' to='gateway.test' version='1.0'>");
    assertStreamError(h, "invalid-namespace");
  });

  test("missing from → invalid-from", async () => {
    const h = harness();
    await h.send(HEADER(undefined));
    assertStreamError(h, "invalid-from");
  });

  test("a domain that is not a partner → policy-violation naming it", async () => {
    const h = harness();
    await h.send(HEADER("stranger.test"));
    assertStreamError(h, "policy-violation");
    assert.match(h.output(), /stranger\.test is not a federated partner/);
  });

  test("to a domain we do not serve → host-unknown", async () => {
    const h = harness();
    await h.send(HEADER("dialback.test", "other.test"));
    assertStreamError(h, "host-unknown");
  });

  test("no version → unsupported-version", async () => {
    const h = harness();
    await h.send(HEADER("dialback.test").replace(" version='1.0'>", ">"));
    assertStreamError(h, "unsupported-version");
  });

  test("a stanza before authentication → not-authorized", async () => {
    const h = harness();
    await h.send(HEADER("dialback.test"));
    await h.send(MSG("romeo@dialback.test"));
    assertStreamError(h, "not-authorized");
  });

  test("STARTTLS skipped where Required → policy-violation", async () => {
    const h = harness();
    await h.send(HEADER("secure.test"));
    await h.send("<db:result from='secure.test' to='gateway.test'>good-key</db:result>");
    assertStreamError(h, "policy-violation");
  });

  test("a forged dialback key → db:result invalid, then not-authorized", async () => {
    const h = harness();
    await h.send(HEADER("dialback.test"));
    await h.send("<db:result from='dialback.test' to='gateway.test'>forged</db:result>");
    assert.match(h.output(), /type='invalid'/);
    assertStreamError(h, "not-authorized");
  });

  test("dialback for a domain of another partner → item-not-found, no authentication", async () => {
    const h = harness();
    await h.send(HEADER("dialback.test"));
    await h.send("<db:result from='secure.test' to='gateway.test'>good-key</db:result>");
    assert.match(h.output(), /<db:result from='gateway.test' to='secure.test' type='error'><error type='cancel'><item-not-found/);
    assert.deepEqual(h.authenticated, []);
  });

  test("SASL EXTERNAL with a certificate that does not name the partner → failure", async () => {
    const h = harness({}, { matchesDomain: () => false });
    await h.send(HEADER("secure.test"));
    await h.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    await h.send(HEADER("secure.test"));
    assert.doesNotMatch(h.output(), /EXTERNAL/);
    await h.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>");
    assert.match(h.output(), /<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized\/>/);
    assert.deepEqual(h.authenticated, []);
  });

  test("SASL EXTERNAL asking for another identity → invalid-authzid", async () => {
    const h = harness();
    await h.send(HEADER("secure.test"));
    await h.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    await h.send(HEADER("secure.test"));
    await h.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>${Buffer.from("either.test").toString("base64")}</auth>`);
    assert.match(h.output(), /<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><invalid-authzid\/>/);
  });

  test("too many bytes before authentication → policy-violation", async () => {
    const h = harness();
    await h.send(HEADER("dialback.test"));
    for (let i = 0; i < 20 && !h.closed; i++) await h.send(" ".repeat(1000));
    assertStreamError(h, "policy-violation");
  });

  // CVE-2011-0411-style STARTTLS command injection: plaintext pipelined after <starttls/> must
  // never be read as part of the protected stream (RFC 6120 §5.4.3.3: the stream restarts on TLS).
  test("stanzas pipelined in plaintext after <starttls/> are dropped, TLS goes on", async () => {
    const h = harness();
    await h.send(HEADER("either.test"));
    await h.send(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>${MSG("romeo@either.test")}`);
    assert.match(h.output(), /<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'\/>$/);
    assert.deepEqual(h.refused, []);
    assert.equal(h.closed, false);
    await h.send(HEADER("either.test"));
    assert.match(h.output().split("<proceed")[1] ?? "", /<mechanism>EXTERNAL<\/mechanism>/);
    assert.equal(h.accepted.length, 0);
  });

  test("a dialback request pipelined in plaintext after <starttls/> authenticates nothing", async () => {
    const h = harness();
    await h.send(HEADER("either.test"));
    await h.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><db:result from='either.test' to='gateway.test'>good-key</db:result>");
    await h.send(HEADER("either.test"));
    assert.deepEqual(h.authenticated, []);
    assert.doesNotMatch(h.output(), /type='valid'/);
    await h.send(MSG("romeo@either.test"));
    assertStreamError(h, "not-authorized");
  });

  test("a stream header pipelined after SASL <auth/> is not read by the old stream", async () => {
    const h = harness();
    await h.send(HEADER("secure.test"));
    await h.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    await h.send(HEADER("secure.test"));
    await h.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>${MSG("romeo@secure.test")}`);
    assert.match(h.output(), /<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'\/>$/);
    await h.send(HEADER("secure.test"));
    await h.send(MSG("romeo@secure.test", "juliet@gateway.test", "after the restart"));
    assert.equal(h.closed, false, h.output());
    assert.deepEqual(h.accepted.map((a) => a.element.getChildText("body")), ["after the restart"]);
  });

  test("a second stream's failure does not touch the first", async () => {
    const good = await dialbackSession();
    const bad = harness();
    await bad.send("<<<");
    assert.ok(bad.closed);
    await good.send(MSG("romeo@dialback.test"));
    assert.equal(good.accepted.length, 1);
    assert.equal(good.closed, false);
  });
});

describe("an idle stream releases its parser between stanzas and rebuilds it from the header", () => {
  test("streamHeaderEnd: after the start tag's '>', quoted '>' and the XML declaration skipped", () => {
    const header = HEADER("dialback.test", "gateway.test", " x='a>b'");
    const bytes = Buffer.from(`${header}<message/>`);
    assert.equal(streamHeaderEnd(bytes), Buffer.byteLength(header));
    assert.equal(streamHeaderEnd(Buffer.from(`  <stream:stream a="é>" b='x'>rest`)), Buffer.byteLength(`  <stream:stream a="é>" b='x'>`));
    assert.equal(streamHeaderEnd(Buffer.from("<stream:stream a='unterminated")), undefined);
  });

  test("released at rest after authentication; the next stanza is still read and checked", async () => {
    const h = await dialbackSession();
    assert.equal(h.stream.releaseIdleParser(), true, "between stanzas: released");
    assert.equal(h.stream.parserReleased, true);
    await h.send(MSG("romeo@dialback.test"));
    assert.equal(h.accepted.length, 1, "a stanza after the rebuild is accepted");
    assert.equal(h.accepted[0]?.element.getChildText("body"), "hello");
    assert.equal(h.stream.releaseIdleParser(), true, "released again after it");
    await h.send(" ");
    assert.equal(h.stream.parserReleased, true, "a whitespace keepalive does not rebuild it");
    await h.send(MSG("mallory@evil.test"));
    assertStreamErrorAfterAccepted(h, "invalid-from", 1);
  });

  test("kept while a stanza is half read: its rest completes it", async () => {
    const h = await dialbackSession();
    const msg = MSG("romeo@dialback.test", "juliet@gateway.test", "split");
    await h.send(msg.slice(0, 40));
    assert.equal(h.stream.releaseIdleParser(), false, "in the middle of a stanza: kept");
    await h.send(msg.slice(40));
    assert.equal(h.accepted.length, 1);
    assert.equal(h.accepted[0]?.element.getChildText("body"), "split");
    await h.send(`${MSG("romeo@dialback.test")}<mess`);
    assert.equal(h.stream.releaseIdleParser(), false, "a start tag begun after a stanza: kept");
    await h.send(`age from='romeo@dialback.test' to='juliet@gateway.test'><body>tail</body></message>`);
    assert.equal(h.accepted.length, 3);
    assert.equal(h.accepted[2]?.element.getChildText("body"), "tail");
  });

  test("never released before the header or during STARTTLS; after SASL, released on the new stream", async () => {
    const h = harness();
    assert.equal(h.stream.releaseIdleParser(), false, "no header yet");
    await h.send(HEADER("secure.test"));
    await h.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    await h.send(HEADER("secure.test"));
    await h.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>`);
    assert.equal(h.stream.releaseIdleParser(), false, "after SASL, before the new header");
    await h.send(HEADER("secure.test"));
    assert.equal(h.stream.releaseIdleParser(), true);
    await h.send(MSG("romeo@secure.test"));
    assert.deepEqual(h.authenticated, ["secure.test/sasl-external"]);
    assert.equal(h.accepted.length, 1);
    assert.equal(h.accepted[0]?.from, "romeo@secure.test");
  });

  test("limits still apply to a rebuilt parser (an oversized stanza)", async () => {
    const h = await dialbackSession();
    assert.equal(h.stream.releaseIdleParser(), true);
    await h.send(MSG("romeo@dialback.test", "juliet@gateway.test", "A".repeat(5000)));
    assert.ok(h.closed);
    assert.match(h.output(), /<stanza-too-big xmlns='urn:xmpp:errors'\/>/);
    assert.equal(h.accepted.length, 0);
  });
});

function assertStreamErrorAfterAccepted(h: Harness, condition: string, accepted: number) {
  assert.ok(h.closed, "the stream is closed");
  assert.match(h.output(), new RegExp(`<stream:error><${condition} xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>`), h.output());
  assert.equal(h.accepted.length, accepted);
}

describe("whitespace between stanzas and the idle parser release", () => {
  test("keepalives and newlines between stanzas keep the stream releasable; a keepalive does not rebuild a released parser", async () => {
    const h = await dialbackSession();
    await h.send(`\n${MSG("romeo@dialback.test")}\n`);
    assert.equal(h.stream.releaseIdleParser(), true, "after a stanza with newlines around it");
    await h.send(" ");
    assert.equal(h.stream.parserReleased, true, "a whitespace keepalive leaves the parser released");
    await h.send(`  ${MSG("romeo@dialback.test")}  ${MSG("romeo@dialback.test")} `);
    assert.equal(h.accepted.length, 3);
    assert.equal(h.stream.releaseIdleParser(), true, "whitespace before, between and after stanzas");
    await h.send(`<message from='romeo@dialback.test' to='juliet@gateway.test'>   `);
    assert.equal(h.stream.releaseIdleParser(), false, "whitespace inside an open stanza: kept");
    await h.send(`<body>x</body></message>`);
    assert.equal(h.accepted.length, 4);
    assert.equal(h.accepted[3]?.element.getChildText("body"), "x");
    await h.send("  text<presence/>");
    assert.ok(h.closed, "text between stanzas still ends the stream");
    assert.match(h.output(), /<stream:error><bad-format /);
  });
});

describe("a stream header inside an open stream, and text between stanzas: refused at once", () => {
  const SECOND_HEADER = HEADER("dialback.test").replace("<?xml version='1.0'?>", "");

  function assertRefusedAtOnce(h: Harness, condition: string, reason: string, accepted: number) {
    assertStreamErrorAfterAccepted(h, condition, accepted);
    assert.match(h.output(), new RegExp(`<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>${reason}</text>`), h.output());
    assert.match(h.output(), /<\/stream:stream>$/);
    assert.deepEqual(h.refused, [{ condition, reason }]);
  }

  test("a second <stream:stream> after authentication (no restart was asked for) → bad-format", async () => {
    const h = await dialbackSession();
    await h.send(MSG("romeo@dialback.test"));
    await h.send(SECOND_HEADER);
    assertRefusedAtOnce(h, "bad-format", "stream header inside an open stream", 1);
  });

  test("a second <stream:stream> reaching a released parser (rebuilt from the header) → bad-format", async () => {
    const h = await dialbackSession();
    assert.equal(h.stream.releaseIdleParser(), true);
    await h.send(`  ${SECOND_HEADER}`);
    assertRefusedAtOnce(h, "bad-format", "stream header inside an open stream", 0);
  });

  test("a second <stream:stream> before authentication → bad-format", async () => {
    const h = harness();
    await h.send(HEADER("dialback.test"));
    await h.send(SECOND_HEADER);
    assertRefusedAtOnce(h, "bad-format", "stream header inside an open stream", 0);
  });

  test("legitimate restarts after STARTTLS and SASL read the new header as a header", async () => {
    const h = harness();
    await h.send(HEADER("secure.test"));
    await h.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    await h.send(HEADER("secure.test"));
    await h.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>`);
    await h.send(HEADER("secure.test"));
    await h.send(MSG("romeo@secure.test"));
    assert.deepEqual(h.refused, []);
    assert.equal(h.closed, false);
    assert.equal(h.accepted.length, 1);
    assert.equal((h.output().match(/<stream:stream /g) ?? []).length, 3, "three stream headers answered");
  });

  test("text between stanzas with no '<' after it → bad-format, without waiting for one", async () => {
    const h = await dialbackSession();
    await h.send(MSG("romeo@dialback.test"));
    await h.send("  ");
    assert.equal(h.closed, false, "a keepalive is fine");
    await h.send(" not a stanza");
    assertRefusedAtOnce(h, "bad-format", "text between stanzas", 1);
  });

  test("text between stanzas reaching a released parser → bad-format", async () => {
    const h = await dialbackSession();
    assert.equal(h.stream.releaseIdleParser(), true);
    await h.send("\nx");
    assertRefusedAtOnce(h, "bad-format", "text between stanzas", 0);
  });

  test("text inside a stanza split across chunks, around keepalives and a parser release, is delivered", async () => {
    const h = await dialbackSession();
    await h.send(" ");
    assert.equal(h.stream.releaseIdleParser(), true);
    const msg = MSG("romeo@dialback.test", "juliet@gateway.test", "one two three four");
    const cut = msg.indexOf("two");
    await h.send(msg.slice(0, cut));
    await h.send(msg.slice(cut, cut + 4));
    await h.send(msg.slice(cut + 4));
    await h.send("\n");
    await h.send(`<message from='romeo@dialback.test' to='juliet@gateway.test'>bare `);
    await h.send("text</message> ");
    assert.deepEqual(h.refused, []);
    assert.equal(h.closed, false);
    assert.deepEqual(
      h.accepted.map((a) => a.element.getChildText("body") ?? a.element.getText()),
      ["one two three four", "bare text"],
    );
  });
});

describe("XEP-0368 direct TLS: the connection is TLS from its first byte", () => {
  /** A stream on the direct-TLS port, once its handshake (the fake's) is done. */
  async function direct(peerTls: Partial<PeerTls> = {}, overrides: Partial<InboundStreamDeps> = {}): Promise<Harness> {
    const h = harness({ directTls: true, ...overrides }, peerTls);
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    return h;
  }

  test("partner opens its stream over TLS: features carry EXTERNAL and no STARTTLS; EXTERNAL, restart, stanzas", async () => {
    const h = await direct();
    assert.equal(h.output(), "", "nothing is written before the peer's header (no <proceed/>)");
    await h.send(HEADER("secure.test"));
    assert.match(h.output(), /<stream:stream [^>]*from='gateway.test' to='secure.test'/);
    assert.doesNotMatch(h.output(), /starttls|proceed/, "TLS is already up: no STARTTLS offered");
    assert.match(h.output(), /<mechanism>EXTERNAL<\/mechanism>/);
    assert.doesNotMatch(h.output(), /dialback xmlns/, "dialback not offered: SASL Required");
    await h.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>`);
    assert.match(h.output(), /<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'\/>$/);
    await h.send(HEADER("secure.test"));
    await h.send(MSG("romeo@secure.test"));
    assert.deepEqual(h.authenticated, ["secure.test/sasl-external"]);
    assert.equal(h.accepted.length, 1);
    assert.equal(h.closed, false);
  });

  test("a partner whose TLS is Required passes without STARTTLS; dialback is offered as after STARTTLS", async () => {
    const h = await direct({ authorized: false, authorizationError: "SELF_SIGNED_CERT_IN_CHAIN" });
    await h.send(HEADER("either.test"));
    assert.doesNotMatch(h.output(), /starttls|EXTERNAL/);
    assert.match(h.output(), /<dialback xmlns='urn:xmpp:features:dialback'>/);
    await h.send("<db:result from='either.test' to='gateway.test'>good-key</db:result>");
    await h.send(MSG("romeo@either.test"));
    assert.deepEqual(h.authenticated, ["either.test/dialback"]);
    assert.equal(h.accepted.length, 1);
  });

  test("<starttls/> on a direct-TLS stream → <failure/>, then policy-violation", async () => {
    const h = await direct();
    await h.send(HEADER("secure.test"));
    await h.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    assert.match(h.output(), /<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'\/>/);
    assertStreamError(h, "policy-violation");
    assert.deepEqual(h.authenticated, []);
  });

  /** A direct-TLS stream whose handshake the test settles by hand. */
  function handshaking() {
    const out: string[] = [];
    const state = { closed: false };
    let settle: { resolve: (tls: PeerTls) => void; reject: (err: Error) => void } | undefined;
    const h = harness({
      directTls: true,
      transport: {
        remoteAddress: "127.0.0.2",
        write: (d) => out.push(d),
        close: () => {
          state.closed = true;
        },
        startTls: () => new Promise<PeerTls>((resolve, reject) => (settle = { resolve, reject })),
      },
    });
    const settled = async () => {
      for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    };
    return { h, out: () => out.join("").replaceAll('"', "'"), state, settle: () => settle, settled };
  }

  test("bytes before the handshake is done are not read as the stream", async () => {
    const t = handshaking();
    t.h.stream.receive(Buffer.from(HEADER("secure.test")));
    assert.equal(t.out(), "", "no header answered while TLS is being negotiated");
    t.settle()?.resolve({ authorized: true, matchesDomain: (d) => d === "secure.test" });
    await t.settled();
    await t.h.send(HEADER("secure.test"));
    assert.match(t.out(), /<mechanism>EXTERNAL<\/mechanism>/);
  });

  test("a failed handshake (plain TCP bytes on the TLS port) → counted as tls-failed, closed, nothing sent", async () => {
    const t = handshaking();
    t.settle()?.reject(new Error("wrong version number"));
    await t.settled();
    assert.ok(t.state.closed);
    assert.deepEqual(t.h.refused, [{ condition: "tls-failed", reason: "wrong version number" }]);
    assert.equal(t.out(), "");
  });
});
