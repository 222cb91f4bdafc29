import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import { test } from "node:test";
import { createTestCa } from "@passerelle/testkit";
import { tempDir } from "../test-support.ts";
import { probeStream } from "./stream-probe.ts";

/** A local server that answers each connection with `script` (or nothing). */
async function server(script: (socket: Socket) => void): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const s: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => undefined);
    socket.once("data", () => script(socket));
  });
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const address = s.address();
  assert.ok(address !== null && typeof address === "object");
  return {
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        s.close(() => resolve());
      }),
  };
}

const HEADER =
  "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='partner.example' to='gateway.example' id='s1' version='1.0'>";
const options = (port: number) => ({ host: "127.0.0.1", port, localDomain: "gateway.example", remoteDomain: "partner.example", starttls: false, timeoutMs: 1500 });

test("reads what the server offers before TLS: STARTTLS required, SASL mechanisms, dialback", async (t) => {
  const s = await server((socket) =>
    socket.write(
      `${HEADER}<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>EXTERNAL</mechanism></mechanisms><dialback xmlns='urn:xmpp:features:dialback'/></stream:features>`,
    ),
  );
  t.after(() => s.close());
  const result = await probeStream(options(s.port));
  assert.deepEqual(result.before, { starttls: true, starttlsRequired: true, saslMechanisms: ["EXTERNAL"], dialback: true });
  assert.equal(result.tls, undefined, "STARTTLS was not asked for");
});

test("a server that never answers: a bounded wait and a clear error", async (t) => {
  const s = await server(() => undefined);
  t.after(() => s.close());
  const started = Date.now();
  await assert.rejects(probeStream(options(s.port)), /no stream header within the time allowed/);
  assert.ok(Date.now() - started < 5000);
});

test("hostile or broken answers are refused: a DTD, something else than features, a closed connection", async (t) => {
  const dtd = await server((socket) => socket.write("<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><stream:stream>"));
  t.after(() => dtd.close());
  await assert.rejects(probeStream(options(dtd.port)), /stream error/);

  const other = await server((socket) => socket.write(`${HEADER}<message/>`));
  t.after(() => other.close());
  await assert.rejects(probeStream(options(other.port)), /expected <stream:features\/>, got <message\/>/);

  const closing = await server((socket) => socket.end());
  t.after(() => closing.close());
  await assert.rejects(probeStream(options(closing.port)), /closed/);
});

test("STARTTLS refused by the server (<failure/>) is an error naming it", async (t) => {
  const s = await server((socket) => {
    socket.write(`${HEADER}<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>`);
    socket.once("data", () => socket.write("<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"));
  });
  t.after(() => s.close());
  await assert.rejects(probeStream({ ...options(s.port), starttls: true }), /refused STARTTLS \(<failure\/>\)/);
});

test("XEP-0368 direct TLS: ALPN xmpp-server, the certificate judged for the partner's domain, the features read over TLS", async (t) => {
  const dir = tempDir("probe");
  t.after(() => rmSync(dir, { recursive: true }));
  const ca = await createTestCa(dir);
  const cert = await ca.issue({ domains: ["partner.example"], name: "partner", validDays: 365 });
  let alpn: string | false | null | undefined;
  const tlsServer = createTlsServer({ cert: readFileSync(cert.certFile), key: readFileSync(cert.keyFile), ALPNProtocols: ["xmpp-server"] }, (socket) => {
    alpn = socket.alpnProtocol;
    socket.on("error", () => undefined);
    socket.once("data", () => socket.write(`${HEADER}<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>EXTERNAL</mechanism></mechanisms></stream:features>`));
  });
  await new Promise<void>((resolve) => tlsServer.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise<void>((resolve) => tlsServer.close(() => resolve())));
  const address = tlsServer.address();
  assert.ok(address !== null && typeof address === "object");

  const result = await probeStream({ ...options(address.port), directTls: true, ca: readFileSync(ca.certFile) });
  assert.equal(alpn, "xmpp-server");
  assert.equal(result.directTls, true);
  assert.deepEqual(result.before.saslMechanisms, ["EXTERNAL"]);
  assert.equal(result.tls?.certificate?.trusted, true);
  assert.equal(result.tls?.certificate?.namesDomain, true);

  // The same server judged for another domain: trusted, but not naming it.
  const other = await probeStream({ ...options(address.port), remoteDomain: "elsewhere.example", directTls: true, ca: readFileSync(ca.certFile) });
  assert.equal(other.tls?.certificate?.namesDomain, false);
  assert.match(other.tls?.certificate?.identities ?? "", /DNS:partner\.example/);
});
