import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeName } from "./wire.ts";
import { encodeUpdate, parseMessage, type UpdateOperation } from "./update.ts";
import { signMessage, verifyMessage } from "./tsig.ts";

// A key made by `tsig-keygen -a hmac-sha256 golden-key` for these tests only.
const key = { name: "golden-key", secret: Buffer.from("Dxz0GKju9iSIgJyD0L6egdg/KAqz/tKJ6ANBQ1jCxT8=", "base64") };
const TIME = 1795807621;
const operations: UpdateOperation[] = [
  { op: "delete-rrset", name: "_xmpp-server._tcp.example.test", type: 33 },
  { op: "add-srv", name: "_xmpp-server._tcp.example.test", ttl: 300, srv: { priority: 0, weight: 5, port: 5269, target: "edge.example.test" } },
];
const request = (): Buffer => encodeUpdate({ id: 56871, zone: "example.test", operations });

// What BIND 9's nsupdate sent (captured on a UDP socket on 127.0.0.1) for:
//   zone example.test / update delete _xmpp-server._tcp.example.test SRV
//   update add _xmpp-server._tcp.example.test 300 IN SRV 0 5 5269 edge.example.test.
// with that key, id 56871, time signed 1795807621. nsupdate compresses the second owner name (pointer c01e).
const NSUPDATE = Buffer.from("de2728000001000000020001076578616d706c65047465737400000600010c5f786d70702d736572766572045f746370076578616d706c65047465737400002100ff000000000000c01e002100010000012c00190000000514950465646765076578616d706c650474657374000a676f6c64656e2d6b65790000fa00ff00000000003d0b686d61632d7368613235360000006b09d985012c0020078634ff98665e0c61342bd344082aad6ac830d7701420946b2c401cc58ea9bede2700000000", "hex");

// Our bytes for the same update: header (opcode UPDATE), zone, delete RRset, add RR, TSIG.
const GOLDEN = [
  "de27 2800 0001 0000 0002 0001", // id, flags (opcode 5), ZOCOUNT 1, PRCOUNT 0, UPCOUNT 2, ARCOUNT 1
  "076578616d706c65047465737400 0006 0001", // zone example.test SOA IN
  "0c5f786d70702d736572766572045f746370076578616d706c65047465737400 0021 00ff 00000000 0000", // delete RRset SRV
  "0c5f786d70702d736572766572045f746370076578616d706c65047465737400 0021 0001 0000012c 0019", // add SRV, TTL 300
  "0000 0005 1495 0465646765076578616d706c65047465737400", // 0 5 5269 edge.example.test.
  "0a676f6c64656e2d6b657900 00fa 00ff 00000000 003d", // TSIG golden-key ANY TTL 0
  "0b686d61632d73686132353600 00006b09d985 012c 0020", // hmac-sha256. time fudge 300 MAC size 32
  "955e0f4c120686d0d9f0839b29156dd6a4a986fd97acd2b132b38751aaf1195c de27 0000 0000", // MAC, original id, error, other len
]
  .join("")
  .replaceAll(" ", "");

const pick = (r: { ok: boolean; reason?: string }): { ok: boolean; reason?: string } => (r.ok ? { ok: true } : { ok: false, reason: r.reason ?? "" });

test("an UPDATE signed with TSIG hmac-sha256: golden bytes", () => {
  const { message, mac } = signMessage(request(), key, { timeSigned: TIME });
  assert.equal(message.toString("hex"), GOLDEN);
  assert.equal(mac.toString("base64"), "lV4PTBIGhtDZ8IObKRVt1qSphv2XrNKxMrOHUarxGVw=");
});

test("the unsigned part is nsupdate's message with its one compression pointer expanded", () => {
  const parsed = parseMessage(NSUPDATE);
  const tsig = parsed.additional.at(-1);
  assert.ok(tsig);
  const body = Buffer.from(NSUPDATE.subarray(0, tsig.start));
  body.writeUInt16BE(0, 10); // ARCOUNT without the TSIG
  const pointer = body.indexOf(Buffer.from("0000000000c01e0021", "hex")) + 5;
  assert.ok(pointer > 5);
  const expanded = Buffer.concat([body.subarray(0, pointer), encodeName("_xmpp-server._tcp.example.test"), body.subarray(pointer + 2)]);
  assert.deepEqual(expanded, request());
});

test("our MAC computation verifies nsupdate's signed message (RFC 8945 §4.3.3)", () => {
  assert.equal(verifyMessage(NSUPDATE, key, undefined, TIME).ok, true);
  const tampered = Buffer.from(NSUPDATE);
  tampered[40] = (tampered[40] ?? 0) ^ 1;
  assert.equal(verifyMessage(tampered, key, undefined, TIME).ok, false);
  const otherKey = { name: "golden-key", secret: Buffer.alloc(32, 7) };
  assert.deepEqual(pick(verifyMessage(NSUPDATE, otherKey, undefined, TIME)), { ok: false, reason: "bad-sig" });
});

/** A server's answer to our request: header with QR, the zone echoed, signed over the request MAC (RFC 8945 §4.3.1). */
function answer(rcode: number, requestMac: Buffer, options: { secret?: Buffer; error?: number } = {}): Buffer {
  const body = Buffer.from(request().subarray(0, 12 + encodeName("example.test").length + 4));
  body.writeUInt16BE(0x8000 | (5 << 11) | rcode, 2);
  body.writeUInt16BE(0, 8);
  return signMessage(body, { name: key.name, secret: options.secret ?? key.secret }, { timeSigned: TIME, requestMac, error: options.error ?? 0 }).message;
}

/** The same answer with its MAC removed (MAC size 0), as servers send with BADSIG/BADKEY (RFC 8945 §5.3.2). */
function stripMac(buf: Buffer): Buffer {
  const tsig = parseMessage(buf).additional.at(-1);
  assert.ok(tsig);
  const macSizeAt = tsig.rdataOffset + encodeName("hmac-sha256.").length + 8;
  const macSize = buf.readUInt16BE(macSizeAt);
  const out = Buffer.concat([buf.subarray(0, macSizeAt), Buffer.from([0, 0]), buf.subarray(macSizeAt + 2 + macSize)]);
  out.writeUInt16BE(tsig.rdata.length - macSize, tsig.rdataOffset - 2);
  return out;
}

test("a correctly signed answer verifies, including the request MAC", () => {
  const { mac } = signMessage(request(), key, { timeSigned: TIME });
  const result = verifyMessage(answer(0, mac), key, mac, TIME + 1);
  assert.equal(result.ok, true);
  assert.equal(result.message.rcode, 0);
  assert.equal(result.message.qr, true);
});

test("a tampered answer MAC is refused", () => {
  const { mac } = signMessage(request(), key, { timeSigned: TIME });
  const good = answer(0, mac);
  const tamperedMac = Buffer.from(good);
  tamperedMac[good.length - 10] = (tamperedMac[good.length - 10] ?? 0) ^ 0x80; // inside the MAC
  assert.deepEqual(pick(verifyMessage(tamperedMac, key, mac, TIME)), { ok: false, reason: "bad-sig" });
  const tamperedBody = Buffer.from(good);
  tamperedBody[3] = (tamperedBody[3] ?? 0) | 0x05; // the rcode changed on the path
  assert.deepEqual(pick(verifyMessage(tamperedBody, key, mac, TIME)), { ok: false, reason: "bad-sig" });
  // Signed over another request's MAC: a replayed answer.
  assert.deepEqual(pick(verifyMessage(good, key, Buffer.alloc(32), TIME)), { ok: false, reason: "bad-sig" });
  // Signed with another secret.
  assert.deepEqual(pick(verifyMessage(answer(0, mac, { secret: Buffer.alloc(32, 1) }), key, mac, TIME)), { ok: false, reason: "bad-sig" });
});

test("time outside the fudge, unsigned answers and server TSIG errors are refused", () => {
  const { mac } = signMessage(request(), key, { timeSigned: TIME });
  assert.deepEqual(pick(verifyMessage(answer(0, mac), key, mac, TIME + 301)), { ok: false, reason: "bad-time" });
  const unsigned = Buffer.from(answer(0, mac).subarray(0, 12 + 14 + 4));
  unsigned.writeUInt16BE(0, 10);
  assert.deepEqual(pick(verifyMessage(unsigned, key, mac, TIME)), { ok: false, reason: "unsigned" });
  // BIND's answer to a wrongly signed request: NOTAUTH, TSIG error BADSIG, empty MAC.
  const result = verifyMessage(stripMac(answer(9, mac, { error: 16 })), key, mac, TIME);
  assert.deepEqual(pick(result), { ok: false, reason: "tsig-error" });
  assert.equal(result.tsig?.error, 16);
  assert.equal(result.message.rcode, 9);
});

test("malformed messages throw instead of being misread", () => {
  assert.throws(() => parseMessage(Buffer.alloc(5)), /truncated/);
  assert.throws(() => parseMessage(Buffer.from("000080000001000000000000c00c00060001", "hex")), /loop|truncated/);
  assert.throws(() => verifyMessage(Buffer.concat([Buffer.from(GOLDEN, "hex"), Buffer.from([0])]), key, undefined, TIME), /trailing/);
});
