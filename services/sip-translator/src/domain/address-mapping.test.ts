import { test } from "node:test";
import assert from "node:assert/strict";
import { formatUri } from "@passerelle/sip";
import { AddressMapper, AddressMappingError } from "./address-mapping.ts";

const mapper = new AddressMapper([{ xmpp: "contoso.com", sip: "sip.contoso.com" }]);

test("a plain JID maps to sip:user@domain, our domain to its SIP domain (RFC 7247 §5.2)", () => {
  assert.equal(mapper.jidToSipUriString("juliet@contoso.com"), "sip:juliet@sip.contoso.com");
  assert.equal(mapper.jidToSipUriString("romeo@partner.example"), "sip:romeo@partner.example");
  assert.equal(mapper.jidToSipUriString("Romeo@Partner.Example"), "sip:romeo@partner.example");
});

test("the resource rides in the GRUU gr parameter, unless left out", () => {
  assert.equal(mapper.jidToSipUriString("romeo@partner.example/orchard"), "sip:romeo@partner.example;gr=orchard");
  assert.equal(mapper.jidToSipUriString("romeo@partner.example/a b", {}), "sip:romeo@partner.example;gr=a%20b");
  assert.equal(mapper.jidToSipUriString("romeo@partner.example/orchard", { withResource: false }), "sip:romeo@partner.example");
});

test("XEP-0106 escapes are undone, then SIP-unsafe characters %-encoded", () => {
  assert.equal(mapper.jidToSipUriString("d\\27artagnan@partner.example"), "sip:d'artagnan@partner.example");
  assert.equal(mapper.jidToSipUriString("juliet\\40example.net@partner.example"), "sip:juliet%40example.net@partner.example");
  assert.equal(mapper.jidToSipUriString("space\\20cadet@partner.example"), "sip:space%20cadet@partner.example");
  assert.equal(mapper.jidToSipUriString("jürgen@partner.example"), "sip:j%C3%BCrgen@partner.example");
  assert.equal(mapper.jidToSipUriString("a#b%c@partner.example"), "sip:a%23b%25c@partner.example");
});

test("IDNA domains become A-labels", () => {
  assert.equal(mapper.jidToSipUriString("user@münchen.example"), "sip:user@xn--mnchen-3ya.example");
});

test("sipDomain from the request overrides the mapping", () => {
  assert.equal(mapper.jidToSipUriString("juliet@contoso.com", { sipDomain: "other.contoso.com" }), "sip:juliet@other.contoso.com");
});

test("SIP to XMPP (RFC 7247 §5.3): unescape %, XEP-0106-escape, domain back, gr → resource", () => {
  assert.equal(mapper.sipUriToJid("sip:juliet@sip.contoso.com").toString(), "juliet@contoso.com");
  assert.equal(mapper.sipUriToJid("sip:juliet%40example.net@partner.example").toString(), "juliet\\40example.net@partner.example");
  assert.equal(mapper.sipUriToJid("sip:d'artagnan@partner.example;gr=orchard").toString(), "d\\27artagnan@partner.example/orchard");
  assert.equal(mapper.sipUriToJid("sips:j%C3%BCrgen@partner.example;transport=tcp").toString(), "jürgen@partner.example");
});

test("round trip JID → SIP → JID", () => {
  for (const jid of ["juliet@contoso.com", "d\\27artagnan@partner.example/x", "a\\20b@partner.example", "c\\3a\\5cnet@partner.example"]) {
    assert.equal(mapper.sipUriToJid(formatUri(mapper.jidToSipUri(jid))).toString(), jid);
  }
});

test("unmappable addresses are refused with jid-malformed", () => {
  for (const bad of ["contoso.com", "@contoso.com", "a@", "a@b@c", "a@" + "x".repeat(1100)]) {
    assert.throws(() => mapper.jidToSipUri(bad), (e: unknown) => e instanceof AddressMappingError && e.condition === "jid-malformed", bad);
  }
  for (const bad of ["sip:contoso.com", "sip:a@192.0.2.1", "sip:a@[::1]", "tel:+123", "sip:%20a@x.example", "sip:a%00@x.example"]) {
    assert.throws(() => mapper.sipUriToJid(bad), AddressMappingError, bad);
  }
});
