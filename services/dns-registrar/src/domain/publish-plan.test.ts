import assert from "node:assert/strict";
import { test } from "node:test";
import { compareRrset, desiredRrsets, parseSecretFile, removeOperations, replaceOperations } from "./publish-plan.ts";

const settings = { edgeFqdn: "edge.contoso.com", port: 5269, ttl: 300, priority: 0, weight: 5 };

test("one _xmpp-server._tcp RRset per local domain, pointing at the edge", () => {
  assert.deepEqual(desiredRrsets(["contoso.com", "fabrikam.com"], settings), [
    { domain: "contoso.com", name: "_xmpp-server._tcp.contoso.com", records: [{ priority: 0, weight: 5, port: 5269, target: "edge.contoso.com" }] },
    { domain: "fabrikam.com", name: "_xmpp-server._tcp.fabrikam.com", records: [{ priority: 0, weight: 5, port: 5269, target: "edge.contoso.com" }] },
  ]);
});

test("with a direct-TLS port, also _xmpps-server._tcp per domain (XEP-0368) → the edge and that port", () => {
  assert.deepEqual(desiredRrsets(["contoso.com"], { ...settings, directTlsPort: 5270 }), [
    { domain: "contoso.com", name: "_xmpp-server._tcp.contoso.com", records: [{ priority: 0, weight: 5, port: 5269, target: "edge.contoso.com" }] },
    { domain: "contoso.com", name: "_xmpps-server._tcp.contoso.com", records: [{ priority: 0, weight: 5, port: 5270, target: "edge.contoso.com" }] },
  ]);
  assert.ok(desiredRrsets(["contoso.com"], { ...settings, directTlsPort: undefined }).every((r) => !r.name.startsWith("_xmpps-server.")));
});

test("drift: missing, differs, in sync (case and final dot ignored)", () => {
  const [rrset] = desiredRrsets(["contoso.com"], settings);
  assert.ok(rrset);
  assert.equal(compareRrset([], rrset.records), "missing");
  assert.equal(compareRrset([{ priority: 0, weight: 5, port: 5269, target: "EDGE.contoso.com." }], rrset.records), "in-sync");
  assert.equal(compareRrset([{ priority: 0, weight: 5, port: 5270, target: "edge.contoso.com" }], rrset.records), "differs");
  assert.equal(compareRrset([...rrset.records, { priority: 10, weight: 0, port: 5269, target: "old.contoso.com" }], rrset.records), "differs");
});

test("replacing deletes our RRset only, then adds", () => {
  const [rrset] = desiredRrsets(["contoso.com"], settings);
  assert.ok(rrset);
  assert.deepEqual(replaceOperations(rrset, 300), [
    { op: "delete-rrset", name: "_xmpp-server._tcp.contoso.com", type: 33 },
    { op: "add-srv", name: "_xmpp-server._tcp.contoso.com", ttl: 300, srv: { priority: 0, weight: 5, port: 5269, target: "edge.contoso.com" } },
  ]);
});

test("removing deletes exactly the records we published, one by one, never the whole RRset", () => {
  const published = [
    { priority: 0, weight: 5, port: 5269, target: "edge.contoso.com" },
    { priority: 10, weight: 0, port: 5269, target: "edge2.contoso.com" },
  ];
  assert.deepEqual(removeOperations("_xmpp-server._tcp.contoso.com", published), [
    { op: "delete-srv", name: "_xmpp-server._tcp.contoso.com", srv: published[0] },
    { op: "delete-srv", name: "_xmpp-server._tcp.contoso.com", srv: published[1] },
  ]);
  assert.deepEqual(removeOperations("_xmpp-server._tcp.contoso.com", []), []);
});

test("secret files: bare base64 or tsig-keygen's clause; short or non-base64 refused", () => {
  const secret = Buffer.alloc(32, 3).toString("base64");
  assert.equal(parseSecretFile(`${secret}\n`).length, 32);
  assert.equal(parseSecretFile(`key "k" {\n\talgorithm hmac-sha256;\n\tsecret "${secret}";\n};\n`).length, 32);
  assert.throws(() => parseSecretFile("not base64!"), /not base64/);
  assert.throws(() => parseSecretFile(Buffer.alloc(8).toString("base64")), /shorter/);
});
