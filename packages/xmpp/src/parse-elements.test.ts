import { test } from "node:test";
import assert from "node:assert/strict";
import { serialize } from "./element.ts";
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

test("a reused parser reads every input exactly as a fresh one, whatever came before", () => {
  const shared = { maxStanzaBytes: 300, maxDepth: 4, maxAttributesPerElement: 4, maxHeaderBytes: 512 };
  const describe = (r: ReturnType<typeof parseElements>): string => (r.ok ? `ok ${r.elements.map((e) => serialize(e)).join("|")}` : `error ${r.error.condition} ${r.error.text ?? ""}`);
  const good = "<message to='a@b.test' id='1'><body>hello</body></message>";
  const inputs = [
    good,
    "<a/>junk", // text after a stanza
    good,
    "<!-- open comment", // markup left open
    good,
    "<message><body>unclosed", // element left open
    good,
    "<a/><", // a lone '<'
    good,
    "<a/>   \n", // trailing whitespace
    good,
    "<x xmlns='urn:x' a='1' b='2' c='3' d='4' e='5'/>", // too many attributes
    good,
    "<a><b><c><d><e><f/></e></d></c></b></a>", // too deep
    good,
    `<m>${"y".repeat(400)}</m>`, // too big
    good,
    "<?pi x?>",
    good,
    "</stream:stream>", // closes the stream
    good,
    "<a/><b/>",
    "<a b='&amp;'/>",
    "<a>\uD83D", // a lone high surrogate at the end
    good,
    "<a/>\r", // a carried CR
    good,
    "",
    good,
  ];
  for (const [i, input] of inputs.entries()) {
    const reused = describe(parseElements(input, shared));
    // A fresh limits object has no pooled parser: the reference reading.
    const fresh = describe(parseElements(input, { ...shared }));
    assert.equal(reused, fresh, `input #${i} ${JSON.stringify(input.slice(0, 40))}`);
  }
  // The client-namespace mode has a pool of its own and reads the same.
  for (let i = 0; i < 2; i++) {
    assert.equal(describe(parseElements(good, shared, { acceptClientNamespace: true })), describe(parseElements(good, { ...shared })));
  }
});

test("text after the last element is refused like text between stanzas; trailing whitespace is not", () => {
  const junk = parseElements("<message xmlns='jabber:server'/>junk", limits);
  assert.equal(!junk.ok && junk.error.condition, "bad-format");
  assert.equal(!junk.ok && junk.error.text, "text between stanzas");
  const spaced = parseElements("<message xmlns='jabber:server'/> \r\n\t", limits);
  assert.ok(spaced.ok);
  assert.equal(spaced.elements.length, 1);
});
