import { test } from "node:test";
import assert from "node:assert/strict";
import { SipParseError } from "./errors.ts";
import { formatNameAddr, parseNameAddr, tagOf } from "./name-addr.ts";
import { parseUri } from "./uri.ts";

test("name-addr with quoted display name and tag (RFC 3261 §20.20)", () => {
  const a = parseNameAddr('"A. G. Bell \\"Alec\\"" <sip:agb@bell-telephone.com> ;tag=a48s');
  assert.equal(a.displayName, 'A. G. Bell "Alec"');
  assert.equal(a.uri.user, "agb");
  assert.equal(a.params.get("tag"), "a48s");
  assert.equal(formatNameAddr(a), '"A. G. Bell \\"Alec\\"" <sip:agb@bell-telephone.com>;tag=a48s');
});

test("token display name and addr-spec forms", () => {
  assert.equal(parseNameAddr("Bob <sips:bob@biloxi.com>").displayName, "Bob");
  const spec = parseNameAddr("sip:+12125551212@phone2net.com;tag=887s");
  assert.equal(spec.uri.params.size, 0, "params after an addr-spec belong to the header");
  assert.equal(spec.params.get("tag"), "887s");
  assert.equal(formatNameAddr(spec), "<sip:+12125551212@phone2net.com>;tag=887s");
  const inner = parseNameAddr("<sip:alice@atlanta.com;transport=tcp>;expires=60");
  assert.equal(inner.uri.params.get("transport"), "tcp");
  assert.equal(inner.params.get("expires"), "60");
});

test("tagOf", () => {
  assert.equal(tagOf("<sip:a@b.com>;tag=xyz"), "xyz");
  assert.equal(tagOf("<sip:a@b.com>"), undefined);
});

test("quoted display names are escaped on output", () => {
  assert.equal(formatNameAddr({ displayName: 'x"\\y', uri: parseUri("sip:a@b.com"), params: new Map() }), '"x\\"\\\\y" <sip:a@b.com>');
});

test("refuses malformed addresses", () => {
  for (const bad of ['"unterminated <sip:a@b.com>', "<sip:a@b.com", "Bad@Name <sip:a@b.com>", "<http://x>", "<sip:a@b.com>;=x", "<sip:a@b.com>;tag=1;tag=2", '"x" sip:a@b.com']) {
    assert.throws(() => parseNameAddr(bad), SipParseError, bad);
  }
});
