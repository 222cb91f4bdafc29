import { test } from "node:test";
import assert from "node:assert/strict";
import { parseElements } from "./parse-elements.ts";

const limits = { maxStanzaBytes: 4096, maxDepth: 8, maxAttributesPerElement: 8, maxHeaderBytes: 512 };

test("standalone elements are read with their namespaces", () => {
  const r = parseElements("<message xmlns='jabber:server' to='a@b.test'><body>x &amp; y</body></message>", limits);
  assert.ok(r.ok);
  assert.equal(r.elements.length, 1);
  assert.equal(r.elements[0]?.getChildText("body"), "x & y");
});

test("restricted XML is refused as on a stream", () => {
  const dtd = parseElements("<!DOCTYPE x [<!ENTITY a 'b'>]><x/>", limits);
  assert.equal(dtd.ok, false);
  assert.equal(!dtd.ok && dtd.error.condition, "restricted-xml");
  const deep = parseElements("<a>".repeat(20), limits);
  assert.equal(!deep.ok && deep.error.condition, "policy-violation");
});
