// Unit tests of the outbound stream client against a scripted server written here (node:net +
// node:tls on 127.0.0.1): the server side of RFC 6120 §4–§6 and XEP-0220, one scenario at a time.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { TLSSocket, createSecureContext } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestCa, type TestCa } from "@passerelle/testkit";
import { NS, StreamParser, dialbackKey, streamFeatures, xml, type Element, type StreamHeader } from "@passerelle/xmpp";
import { connectS2S, verifyDialback, type ConnectOptions } from "./connect.ts";
import { S2SError } from "./errors.ts";

const LIMITS = { maxStanzaBytes: 65536, maxDepth: 32, maxAttributesPerElement: 32, maxHeaderBytes: 4096 };
const SECRET = "a-test-secret-of-enough-length";

let dir = "";
let ca: TestCa;
let partnerCert = { cert: "", key: "" };
let gatewayCert = { cert: "", key: "" };
let wrongCert = { cert: "", key: "" };

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "s2s-connect-"));
  ca = await createTestCa(join(dir, "ca"));
  const read = (f: { certFile: string; keyFile: string }) => ({ cert: readFileSync(f.certFile, "utf8"), key: readFileSync(f.keyFile, "utf8") });
  partnerCert = read(await ca.issue({ domains: ["partner.example"], xmppIdentifiers: true }));
  gatewayCert = read(await ca.issue({ domains: ["gateway.example"], xmppIdentifiers: true }));
  wrongCert = read(await ca.issueWrongName("partner.example"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** The server side of one connection, driven by a script. */
class Peer {
  socket: Socket | TLSSocket;
  private parser: StreamParser;
  private readonly events: (StreamHeader | Element | "end")[] = [];
  private wake: (() => void) | undefined;
  clientCertificateSubject: string | undefined;

  constructor(socket: Socket) {
    this.socket = socket;
    this.parser = this.makeParser();
    socket.on("data", (d: Buffer) => this.parser.write(d));
    socket.on("error", () => undefined);
  }

  private makeParser(): StreamParser {
    const push = (e: StreamHeader | Element | "end") => {
      this.events.push(e);
      this.wake?.();
    };
    return new StreamParser(LIMITS, { onStreamStart: push, onElement: (el) => push(el), onStreamEnd: () => push("end"), onError: (err) => push(xml("parse-error", {}, err.message)) });
  }

  async next(): Promise<StreamHeader | Element | "end"> {
    for (let i = 0; i < 100 && this.events.length === 0; i++) await new Promise<void>((r) => ((this.wake = r), setTimeout(r, 50)));
    const e = this.events.shift();
    if (e === undefined) throw new Error("peer: nothing received");
    return e;
  }
  async header(): Promise<StreamHeader> {
    const e = await this.next();
    if (typeof e === "string" || e instanceof Object && "getName" in e) throw new Error(`peer: expected a header, got ${String(e)}`);
    return e;
  }
  async element(): Promise<Element> {
    const e = await this.next();
    if (typeof e === "string" || !("getName" in e)) throw new Error(`peer: expected an element, got ${JSON.stringify(e)}`);
    return e;
  }
  /** RFC 6120 §6.4.6: the stream restarts after SASL success. */
  restart(): void {
    this.parser.reset();
  }
  send(s: string | Element): void {
    this.socket.write(typeof s === "string" ? s : s.toString());
  }
  openStream(id: string, features: Element | undefined): void {
    this.send(`<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='partner.example' to='gateway.example' id='${id}' version='1.0'>`);
    if (features !== undefined) this.send(features);
  }
  /** RFC 6120 §5.4.3.3: TLS over the same socket, asking for a client certificate. */
  async startTls(cert = partnerCert): Promise<void> {
    this.send(xml("proceed", { xmlns: NS.tls }));
    const raw = this.socket as Socket;
    raw.removeAllListeners("data");
    const secure = new TLSSocket(raw, {
      isServer: true,
      secureContext: createSecureContext({ cert: cert.cert, key: cert.key, ca: readFileSync(ca.certFile) }),
      requestCert: true,
      rejectUnauthorized: false,
    });
    secure.on("error", () => undefined);
    await new Promise<void>((resolve) => secure.once("secure", resolve));
    const peerCert = secure.getPeerCertificate();
    const cn = peerCert?.subject?.CN;
    this.clientCertificateSubject = Array.isArray(cn) ? cn.join(",") : cn;
    this.socket = secure;
    this.parser = this.makeParser();
    secure.on("data", (d: Buffer) => this.parser.write(d));
  }
}

/** A server on 127.0.0.1 running `script` for each connection. */
async function server(script: (peer: Peer) => Promise<void>): Promise<{ port: number; server: Server; failures: unknown[] }> {
  const failures: unknown[] = [];
  const srv = createServer((socket) => {
    const peer = new Peer(socket);
    script(peer).catch((err: unknown) => {
      failures.push(err);
      if (process.env.S2S_TEST_DEBUG !== undefined) console.error("peer script failed:", err);
      socket.destroy();
    });
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const address = srv.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  return { port: address.port, server: srv, failures };
}

function options(port: number, extra: Partial<ConnectOptions> = {}): ConnectOptions {
  return {
    localDomain: "gateway.example",
    remoteDomain: "partner.example",
    targets: [{ host: "127.0.0.1", port, directTls: false }],
    tls: "required",
    tlsMaterial: { cert: gatewayCert.cert, key: gatewayCert.key, ca: readFileSync(ca.certFile, "utf8") },
    timeouts: { connectMs: 2000, establishmentMs: 3000 },
    limits: LIMITS,
    sasl: "optional",
    dialback: true,
    dialbackKey: async ({ streamId, receiving, originating }) => dialbackKey(SECRET, receiving, originating, streamId),
    ...extra,
  };
}

test("STARTTLS then SASL EXTERNAL, stanzas both ways, clean close", async () => {
  let saslAuthzid = "";
  const received: string[] = [];
  const { port, server: srv, failures } = await server(async (peer) => {
    const h = await peer.header();
    assert.equal(h.attrs.to, "partner.example");
    assert.equal(h.namespaces.db, NS.dialback);
    peer.openStream("s1", streamFeatures({ starttls: "required" }));
    assert.ok((await peer.element()).is("starttls", NS.tls));
    await peer.startTls();
    await peer.header();
    peer.openStream("s2", streamFeatures({ saslExternal: true, dialback: true }));
    const auth = await peer.element();
    assert.ok(auth.is("auth", NS.sasl));
    saslAuthzid = Buffer.from(auth.getText(), "base64").toString();
    peer.restart();
    peer.send(xml("success", { xmlns: NS.sasl }));
    await peer.header();
    peer.openStream("s3", xml("stream:features"));
    received.push((await peer.element()).toString());
    peer.send("<message from='juliet@partner.example' to='romeo@gateway.example'><body>hi</body></message>");
    assert.equal(await peer.next(), "end");
    peer.send("</stream:stream>");
    peer.socket.end();
  });
  try {
    const conn = await connectS2S(options(port));
    assert.equal(conn.authentication, "sasl-external");
    assert.equal(conn.streamId, "s3");
    assert.deepEqual(conn.tls && { trusted: conn.tls.trusted, identityMatches: conn.tls.identityMatches }, { trusted: true, identityMatches: true });
    const incoming = new Promise<Element>((resolve) => conn.once("element", resolve));
    conn.send(xml("message", { from: "romeo@gateway.example", to: "juliet@partner.example" }, xml("body", {}, "hello")));
    const el = await incoming;
    assert.equal(el.getChildText("body"), "hi");
    const closed = new Promise<{ error?: S2SError }>((resolve) => conn.once("close", resolve));
    await conn.close();
    assert.deepEqual(await closed, {});
    assert.equal(saslAuthzid, "gateway.example");
    assert.match(received[0] ?? "", /<body>hello<\/body>/);
    assert.deepEqual(failures, []);
  } finally {
    srv.close();
  }
});

test("dialback over plain TCP when TLS is optional and not offered", async () => {
  const { port, server: srv, failures } = await server(async (peer) => {
    await peer.header();
    peer.openStream("db-stream-1", streamFeatures({ dialback: true }));
    const result = await peer.element();
    assert.ok(result.is("result", NS.dialback));
    assert.equal(result.getText(), dialbackKey(SECRET, "partner.example", "gateway.example", "db-stream-1"));
    peer.send(xml("db:result", { from: "partner.example", to: "gateway.example", type: "valid" }));
    await peer.next();
  });
  try {
    const conn = await connectS2S(options(port, { tls: "optional" }));
    assert.equal(conn.authentication, "dialback");
    assert.equal(conn.tls, undefined);
    conn.destroy();
    assert.deepEqual(failures, []);
  } finally {
    srv.close();
  }
});

test("dialback refused: an auth error, socket closed", async () => {
  const { port, server: srv } = await server(async (peer) => {
    await peer.header();
    peer.openStream("x", streamFeatures({ dialback: true }));
    await peer.element();
    peer.send(xml("db:result", { from: "partner.example", to: "gateway.example", type: "invalid" }));
    await peer.next();
  });
  try {
    await assert.rejects(connectS2S(options(port, { tls: "optional" })), (err: S2SError) => err.kind === "auth" && /invalid/.test(err.message));
  } finally {
    srv.close();
  }
});

test("TLS required but not offered fails with kind tls", async () => {
  const { port, server: srv } = await server(async (peer) => {
    await peer.header();
    peer.openStream("x", streamFeatures({ dialback: true }));
    await peer.next();
  });
  try {
    await assert.rejects(connectS2S(options(port)), (err: S2SError) => err.kind === "tls" && /does not offer STARTTLS/.test(err.message));
  } finally {
    srv.close();
  }
});

test("a certificate naming another domain: refused under 'require', reported under 'report'", async () => {
  const script = async (peer: Peer) => {
    await peer.header();
    peer.openStream("x", streamFeatures({ starttls: "required" }));
    await peer.element();
    await peer.startTls(wrongCert);
    await peer.header();
    peer.openStream("y", streamFeatures({ dialback: true }));
    await peer.element();
    peer.send(xml("db:result", { from: "partner.example", to: "gateway.example", type: "valid" }));
    await peer.next();
  };
  const { port, server: srv } = await server(script);
  try {
    await assert.rejects(connectS2S(options(port)), (err: S2SError) => err.kind === "certificate" && /does not name partner\.example/.test(err.message));
    const conn = await connectS2S(options(port, { certificate: "report", sasl: "not-supported" }));
    assert.equal(conn.authentication, "dialback");
    assert.equal(conn.tls?.trusted, true);
    assert.equal(conn.tls?.identityMatches, false);
    conn.destroy();
  } finally {
    srv.close();
  }
});

test("a stream error from the peer surfaces typed", async () => {
  const { port, server: srv } = await server(async (peer) => {
    await peer.header();
    peer.openStream("x", undefined);
    peer.send("<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>no such host</text></stream:error></stream:stream>");
    await peer.next();
  });
  try {
    await assert.rejects(connectS2S(options(port)), (err: S2SError) => err.kind === "stream-error" && err.streamError?.condition === "host-unknown" && err.streamError.text === "no such host");
  } finally {
    srv.close();
  }
});

test("hostile XML from the peer is a protocol error (restricted-xml), not a crash", async () => {
  const { port, server: srv } = await server(async (peer) => {
    await peer.header();
    peer.send("<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'aaaa'>]><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'>");
    await peer.next();
  });
  try {
    await assert.rejects(connectS2S(options(port)), (err: S2SError) => err.kind === "protocol" && err.streamError?.condition === "restricted-xml");
  } finally {
    srv.close();
  }
});

test("a silent peer: the establishment timeout bounds the wait", async () => {
  const { port, server: srv } = await server(async () => undefined);
  try {
    const started = Date.now();
    await assert.rejects(connectS2S(options(port, { timeouts: { connectMs: 1000, establishmentMs: 300 } })), (err: S2SError) => err.kind === "timeout");
    assert.ok(Date.now() - started < 2000);
  } finally {
    srv.close();
  }
});

test("targets are tried in order: a refused port, then one that answers", async () => {
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
  const deadPort = (closed.address() as { port: number }).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const { port, server: srv } = await server(async (peer) => {
    await peer.header();
    peer.openStream("z", streamFeatures({ dialback: true }));
    await peer.element();
    peer.send(xml("db:result", { from: "partner.example", to: "gateway.example", type: "valid" }));
    await peer.next();
  });
  try {
    const conn = await connectS2S(options(port, { tls: "optional", targets: [{ host: "127.0.0.1", port: deadPort, directTls: false }, { host: "127.0.0.1", port, directTls: false }] }));
    assert.equal(conn.target, `127.0.0.1:${port}`);
    conn.destroy();
    await assert.rejects(connectS2S(options(deadPort, { tls: "optional" })), (err: S2SError) => err.kind === "connect");
    await assert.rejects(connectS2S(options(port, { targets: [] })), (err: S2SError) => err.kind === "no-targets");
  } finally {
    srv.close();
  }
});

test("verifyDialback: STARTTLS, db:verify, typed answer, stream closed", async () => {
  let sawEnd = false;
  const { port, server: srv, failures } = await server(async (peer) => {
    await peer.header();
    peer.openStream("v1", streamFeatures({ starttls: "optional", dialback: true }));
    await peer.element();
    await peer.startTls();
    await peer.header();
    peer.openStream("v2", streamFeatures({ dialback: true }));
    const verify = await peer.element();
    assert.ok(verify.is("verify", NS.dialback));
    const { from, to, id } = verify.attrs;
    const valid = verify.getText() === dialbackKey(SECRET, from ?? "", to ?? "", id ?? "");
    peer.send(xml("db:verify", { from: to, to: from, id, type: valid ? "valid" : "invalid" }));
    sawEnd = (await peer.next()) === "end";
    peer.send("</stream:stream>");
  });
  try {
    const good = dialbackKey(SECRET, "gateway.example", "partner.example", "incoming-7");
    const result = await verifyDialback({ ...options(port), streamId: "incoming-7", key: good });
    assert.equal(result.valid, true);
    assert.equal(result.tls?.identityMatches, true);
    const bad = await verifyDialback({ ...options(port), streamId: "incoming-7", key: "00".repeat(32) });
    assert.equal(bad.valid, false);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(sawEnd, true);
    assert.deepEqual(failures, []);
  } finally {
    srv.close();
  }
});
