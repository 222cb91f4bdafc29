import { test } from "node:test";
import assert from "node:assert/strict";
import { parseStanza } from "./parse-stanza.ts";

test("a serialized stanza parses back to its element", () => {
  const el = parseStanza("<message xmlns='jabber:server' from='a@b.test' to='c@d.test' type='chat' id='1'><body>hi &amp; bye</body></message>");
  assert.equal(el.name, "message");
  assert.equal(el.attrs.from, "a@b.test");
  assert.equal(el.getChildText("body"), "hi & bye");
});

test("a payload with a DTD or an entity is refused", () => {
  assert.throws(() => parseStanza("<!DOCTYPE x [<!ENTITY a 'b'>]><message/>"));
  assert.throws(() => parseStanza("<message><body>&a;</body></message>"));
  assert.throws(() => parseStanza("<message><body>unfinished"));
});
