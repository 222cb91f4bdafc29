import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeUpdate } from "./update.ts";

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ""), "hex");

test("RFC 2136 §2.5.4: deleting one SRV RR is class NONE, TTL 0 and that RR's RDATA (golden bytes)", () => {
  const message = encodeUpdate({
    id: 1,
    zone: "a.test",
    operations: [{ op: "delete-srv", name: "_xmpp-server._tcp.a.test", srv: { priority: 0, weight: 5, port: 5269, target: "e.a.test" } }],
  });
  assert.deepEqual(
    message,
    hex(
      [
        "0001 2800 0001 0000 0001 0000", // id 1, opcode UPDATE, ZO 1, PR 0, UP 1, AD 0
        "01 61 04 74657374 00 0006 0001", // zone a.test SOA IN
        "0c 5f786d70702d736572766572 04 5f746370 01 61 04 74657374 00", // _xmpp-server._tcp.a.test
        "0021 00fe 00000000 0010", // SRV, class NONE, TTL 0, RDLENGTH 16
        "0000 0005 1495 01 65 01 61 04 74657374 00", // 0 5 5269 e.a.test.
      ].join(""),
    ),
  );
});
