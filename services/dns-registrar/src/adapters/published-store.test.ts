import assert from "node:assert/strict";
import { test } from "node:test";
import { parsePublished } from "./published-store.ts";

const record = { priority: 0, weight: 5, port: 5269, target: "edge.contoso.com" };

test("an entry we wrote reads back", () => {
  assert.deepEqual(parsePublished("_xmpp-server._tcp.contoso.com", JSON.stringify({ domain: "contoso.com", zone: "contoso.com", records: [record] })), {
    domain: "contoso.com",
    name: "_xmpp-server._tcp.contoso.com",
    zone: "contoso.com",
    records: [record],
  });
});

test("anything else is refused: not JSON, a name that is not the domain's, bad records, too many", () => {
  const entry = (v: unknown) => parsePublished("_xmpp-server._tcp.contoso.com", JSON.stringify(v));
  assert.equal(parsePublished("_xmpp-server._tcp.contoso.com", "{"), undefined);
  assert.equal(entry({ domain: "fabrikam.com", zone: "fabrikam.com", records: [record] }), undefined);
  assert.equal(entry({ domain: "contoso.com", zone: "contoso.com", records: [{ ...record, port: 70000 }] }), undefined);
  assert.equal(entry({ domain: "contoso.com", zone: "contoso.com", records: [{ ...record, target: "" }] }), undefined);
  assert.equal(entry({ domain: "contoso.com", zone: "contoso.com", records: Array.from({ length: 33 }, () => record) }), undefined);
  assert.equal(entry({ domain: "contoso.com", records: [record] }), undefined);
});

test("an XEP-0368 `_xmpps-server._tcp` entry of the domain is read back; another service name is not", () => {
  const value = JSON.stringify({ domain: "contoso.com", zone: "contoso.com", records: [record] });
  assert.equal(parsePublished("_xmpps-server._tcp.contoso.com", value)?.name, "_xmpps-server._tcp.contoso.com");
  assert.equal(parsePublished("_xmpps-server._tcp.fabrikam.com", value), undefined);
  assert.equal(parsePublished("_xmpp-client._tcp.contoso.com", value), undefined);
});
