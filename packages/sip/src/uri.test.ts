import { test } from "node:test";
import assert from "node:assert/strict";
import { SipParseError } from "./errors.ts";
import { escapeUser, formatUri, parseUri, sipUri } from "./uri.ts";

test("parses every component of a SIP URI (RFC 3261 §19.1.1)", () => {
  const u = parseUri("sips:alice:secret@Atlanta.Example.COM:5061;transport=TCP;lr;maddr=239.255.255.1?subject=project%20x&priority=urgent");
  assert.equal(u.scheme, "sips");
  assert.equal(u.user, "alice");
  assert.equal(u.password, "secret");
  assert.equal(u.host, "atlanta.example.com");
  assert.equal(u.port, 5061);
  assert.deepEqual([...u.params], [["transport", "TCP"], ["lr", null], ["maddr", "239.255.255.1"]]);
  assert.deepEqual(u.headers, [["subject", "project x"], ["priority", "urgent"]]);
});

test("formats back to the same text (golden)", () => {
  for (const text of [
    "sip:alice@atlanta.com",
    "sip:alice@atlanta.com;gr=urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
    "sip:+1-212-555-1212:1234@gateway.com;user=phone",
    "sip:192.0.2.4",
    "sip:[2001:db8::10]:5070;transport=udp",
    "sips:1212@gateway.com",
    "sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com",
  ]) {
    assert.equal(formatUri(parseUri(text)), text);
  }
});

test("user part escaping: reserved and non-ASCII characters are %-encoded, user-unreserved kept", () => {
  assert.equal(escapeUser("a b@c"), "a%20b%40c");
  assert.equal(escapeUser("&=+$,;?/"), "&=+$,;?/");
  assert.equal(escapeUser("jürgen"), "j%C3%BCrgen");
  assert.equal(escapeUser("100%"), "100%25");
  const u = sipUri({ user: "o'hara:x@y", host: "Example.com" });
  assert.equal(formatUri(u), "sip:o'hara%3Ax%40y@example.com");
  assert.equal(parseUri(formatUri(u)).user, "o'hara:x@y");
});

test("escaped characters decode (in the spirit of RFC 4475 §3.1.1.x 'esc' tests)", () => {
  assert.equal(parseUri("sip:sip%3Auser%40example.com@example.net").user, "sip:user@example.com");
  assert.equal(parseUri("sip:%61lice@atlanta.com").user, "alice");
});

test("refuses malformed URIs with SipParseError", () => {
  for (const bad of [
    "http://example.com",
    "sip:",
    "sip:@example.com",
    "sip:a@b@c",
    "sip:a b@example.com",
    "sip:alice@exa mple.com",
    "sip:alice@example.com:99999",
    "sip:alice@example.com:port",
    "sip:alice@[::1",
    "sip:alice@-bad-.com",
    "sip:alice@1.2.3.999",
    "sip:al%zzice@example.com",
    "sip:%ff@example.com",
    "sip:alice@example.com;;lr",
    "sip:alice@example.com;lr;lr",
    "sip:alice@example.com?nohvalue",
    "sip:" + "a".repeat(5000) + "@x.com",
  ]) {
    assert.throws(() => parseUri(bad), SipParseError, bad);
  }
});
