// Real sockets on 127.0.0.1: two endpoints talk SIP over UDP and over TCP.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createConnection } from "node:net";
import { createSocket } from "node:dgram";
import { SipEndpoint } from "./endpoint.ts";
import { SipHeaders } from "./headers.ts";
import type { SipRequest } from "./message.ts";
import { createResponse } from "./response.ts";
import { TcpTransport } from "./tcp-transport.ts";
import { UdpTransport } from "./udp-transport.ts";
import type { Peer, SipTransport, TransportEvents } from "./transport.ts";

type Listen = (o: { host: string; port: number }, e: TransportEvents) => Promise<SipTransport>;

async function pair(listen: Listen) {
  const refused: string[] = [];
  const make = async () => {
    const ep = new SipEndpoint({ times: { t1: 50, t2: 400, t4: 500 }, onDiagnostic: (d) => refused.push(d.kind + ":" + d.detail) });
    const t = await listen({ host: "127.0.0.1", port: 0 }, ep.transportEvents);
    ep.attach(t);
    return { ep, t };
  };
  return { a: await make(), b: await make(), refused };
}

function message(to: Peer, body: string): SipRequest {
  return {
    kind: "request",
    method: "MESSAGE",
    uri: `sip:bob@${to.host}:${to.port}`,
    headers: new SipHeaders([
      ["Max-Forwards", "70"],
      ["From", "<sip:alice@127.0.0.1>;tag=a1"],
      ["To", "<sip:bob@127.0.0.1>"],
      ["Call-ID", `c-${Math.random()}`],
      ["CSeq", "1 MESSAGE"],
      ["Content-Type", "text/plain;charset=UTF-8"],
    ]),
    body: Buffer.from(body),
  };
}

for (const [name, listen] of [
  ["UDP", (o, e) => UdpTransport.listen(o, e)],
  ["TCP", (o, e) => TcpTransport.listen(o, e)],
] as [string, Listen][]) {
  test(`${name}: a MESSAGE is answered 200 with a To-tag, and the answer reaches the client transaction`, async () => {
    const { a, b } = await pair(listen);
    try {
      const got: string[] = [];
      b.ep.onRequest((req, respond) => {
        got.push(req.body.toString());
        void respond(createResponse(req, 200, { toTag: "srv" }));
      });
      const result = await a.ep.request(message(b.t.local, "héllo"), b.t.local);
      assert.equal(result.source, "network");
      assert.equal(result.response.status, 200);
      assert.match(result.response.headers.get("to")!, /;tag=srv$/);
      assert.deepEqual(got, ["héllo"]);
      const via = result.response.headers.get("via")!;
      assert.match(via, new RegExp(`^SIP/2.0/${name} 127.0.0.1:${a.t.local.port};branch=z9hG4bK\\w+;rport=${name === "UDP" ? a.t.local.port : "\\d+"}$`));
      assert.equal(a.ep.pendingTransactions, name === "TCP" ? 0 : 1); // UDP waits out Timer K
    } finally {
      a.ep.shutdown();
      b.ep.shutdown();
      await a.t.close();
      await b.t.close();
    }
  });

  test(`${name}: nobody answers → local 408 after 64*T1`, async () => {
    const { a, b } = await pair(listen);
    try {
      b.ep.onRequest(() => {});
      const started = Date.now();
      const result = await a.ep.request(message(b.t.local, "x"), b.t.local);
      assert.equal(result.source, "timeout");
      assert.equal(result.response.status, 408);
      assert.ok(Date.now() - started >= 64 * 50 - 20);
    } finally {
      a.ep.shutdown();
      b.ep.shutdown();
      await a.t.close();
      await b.t.close();
    }
  });
}

test("UDP: a retransmitted request is answered from the cache, the handler runs once", async () => {
  const { a, b } = await pair((o, e) => UdpTransport.listen(o, e));
  try {
    let calls = 0;
    b.ep.onRequest((req, respond) => {
      calls++;
      // Answer only after the client has retransmitted twice (T1 = 50 ms).
      setTimeout(() => void respond(createResponse(req, 202)), 180);
    });
    const result = await a.ep.request(message(b.t.local, "x"), b.t.local);
    assert.equal(result.response.status, 202);
    assert.equal(calls, 1);
  } finally {
    a.ep.shutdown();
    b.ep.shutdown();
    await a.t.close();
    await b.t.close();
  }
});

test("UDP: garbage and oversize datagrams are refused without crashing", async () => {
  const { a, b, refused } = await pair((o, e) => UdpTransport.listen(o, e));
  const sock = createSocket("udp4");
  try {
    for (const data of [Buffer.from("garbage\r\n\r\n"), Buffer.alloc(65000, 0x41), Buffer.from("\r\n\r\n")]) {
      await new Promise<void>((r) => sock.send(data, b.t.local.port, "127.0.0.1", () => r()));
    }
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(refused.length, 2, refused.join("\n"));
    b.ep.onRequest((req, respond) => void respond(createResponse(req, 200)));
    assert.equal((await a.ep.request(message(b.t.local, "still alive"), b.t.local)).response.status, 200);
  } finally {
    sock.close();
    a.ep.shutdown();
    b.ep.shutdown();
    await a.t.close();
    await b.t.close();
  }
});

test("TCP: a stream without Content-Length is refused and the connection closed; others unaffected", async () => {
  const { a, b, refused } = await pair((o, e) => TcpTransport.listen(o, e));
  try {
    const sock = createConnection({ host: "127.0.0.1", port: b.t.local.port });
    await new Promise((r) => sock.once("connect", r));
    const closed = new Promise((r) => sock.once("close", r));
    sock.on("error", () => {});
    sock.write("MESSAGE sip:b@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP x;branch=z9hG4bK1\r\n\r\nhello");
    await closed;
    assert.equal(refused.length, 1);
    b.ep.onRequest((req, respond) => void respond(createResponse(req, 200)));
    assert.equal((await a.ep.request(message(b.t.local, "ok"), b.t.local)).response.status, 200);
  } finally {
    a.ep.shutdown();
    b.ep.shutdown();
    await a.t.close();
    await b.t.close();
  }
});

test("TCP: connecting to a closed port gives a local 503", async () => {
  const { a, b } = await pair((o, e) => TcpTransport.listen(o, e));
  const dead = b.t.local;
  await b.t.close();
  try {
    const result = await a.ep.request(message(dead, "x"), dead);
    assert.equal(result.source, "transport-error");
    assert.equal(result.response.status, 503);
  } finally {
    a.ep.shutdown();
    await a.t.close();
  }
});
