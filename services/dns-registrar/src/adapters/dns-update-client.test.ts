// The update client against fake servers on 127.0.0.1: UDP retries, TCP fallback on truncation,
// a tampered answer refused.
import assert from "node:assert/strict";
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { createServer, type Server } from "node:net";
import { after, test } from "node:test";
import { signMessage, verifyMessage } from "../protocol/tsig.ts";
import { parseMessage } from "../protocol/update.ts";
import { TYPE } from "../protocol/wire.ts";
import { sendUpdate } from "./dns-update-client.ts";

const key = { name: "test-key", secret: Buffer.alloc(32, 9) };
const ops = [{ op: "delete-rrset" as const, name: "_xmpp-server._tcp.example.test", type: TYPE.SRV }];
const now = (): number => Math.floor(Date.now() / 1000);

/** Answers a request the way a server does: echo header and zone, QR set, signed over the request MAC. */
function answerTo(request: Buffer, rcode: number, tc = false): Buffer {
  const verified = verifyMessage(request, key, undefined, now());
  assert.equal(verified.ok, true, "the request is correctly signed");
  const zoneEnd = 12 + (request.indexOf(0, 12) - 12 + 1) + 4;
  const body = Buffer.from(request.subarray(0, zoneEnd));
  body.writeUInt16BE(0x8000 | (5 << 11) | (tc ? 0x0200 : 0) | rcode, 2);
  body.fill(0, 6, 12);
  body.writeUInt16BE(1, 4);
  const mac = verified.ok ? verified.tsig.mac : Buffer.alloc(0);
  return signMessage(body, key, { timeSigned: now(), requestMac: mac }).message;
}

const closers: (() => void)[] = [];
after(() => closers.forEach((c) => c()));

async function udpServer(handle: (msg: Buffer, count: number) => Buffer | undefined): Promise<{ port: number; socket: UdpSocket }> {
  const socket = createSocket("udp4");
  let count = 0;
  socket.on("message", (msg, rinfo) => {
    const reply = handle(msg, ++count);
    if (reply !== undefined) socket.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  closers.push(() => socket.close());
  return { port: socket.address().port, socket };
}

async function tcpServer(port: number, handle: (msg: Buffer) => Buffer): Promise<Server> {
  const server = createServer((conn) => {
    let buf = Buffer.alloc(0);
    conn.on("data", (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const reply = handle(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        const prefix = Buffer.alloc(2);
        prefix.writeUInt16BE(reply.length);
        conn.end(Buffer.concat([prefix, reply]));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  closers.push(() => server.close());
  return server;
}

test("a lost UDP datagram is retried; a signed NOERROR is success", async () => {
  const { port } = await udpServer((msg, count) => (count === 1 ? undefined : answerTo(msg, 0)));
  const outcome = await sendUpdate({ host: "127.0.0.1", port, key, timeoutMs: 300, tries: 3 }, "example.test", ops);
  assert.deepEqual(outcome, { ok: true, transport: "udp" });
});

test("a truncated UDP answer is asked again over TCP", async () => {
  const { port } = await udpServer((msg) => answerTo(msg, 0, true));
  await tcpServer(port, (msg) => answerTo(msg, 0));
  const outcome = await sendUpdate({ host: "127.0.0.1", port, key, timeoutMs: 1000, tries: 1 }, "example.test", ops);
  assert.deepEqual(outcome, { ok: true, transport: "tcp" });
});

test("an answer whose MAC was tampered with is refused, even if it says NOERROR", async () => {
  const { port } = await udpServer((msg) => {
    const reply = answerTo(msg, 0);
    const tsig = parseMessage(reply).additional.at(-1);
    assert.ok(tsig);
    const at = tsig.rdataOffset + 14 + 10 + 3; // inside the MAC
    reply[at] = (reply[at] ?? 0) ^ 0xff;
    return reply;
  });
  const outcome = await sendUpdate({ host: "127.0.0.1", port, key, timeoutMs: 500, tries: 1 }, "example.test", ops);
  assert.equal(outcome.ok, false);
  assert.match(outcome.ok ? "" : outcome.reason, /signature is not valid \(bad-sig\)/);
});

test("a refusal is reported with its rcode; no answer at all is an error after the bounded tries", async () => {
  const refused = await udpServer((msg) => answerTo(msg, 5));
  const outcome = await sendUpdate({ host: "127.0.0.1", port: refused.port, key, timeoutMs: 500, tries: 1 }, "example.test", ops);
  assert.deepEqual(outcome, { ok: false, rcode: "REFUSED", tsigError: "NOERROR", reason: "the server refused the update (REFUSED)" });
  const silent = await udpServer(() => undefined);
  await assert.rejects(sendUpdate({ host: "127.0.0.1", port: silent.port, key, timeoutMs: 100, tries: 2 }, "example.test", ops), /after 2 UDP tries/);
});
