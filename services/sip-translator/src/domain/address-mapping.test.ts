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

// ---- XEP-0106 (checked against the XEP's text, xsf/xeps xep-0106.xml v1.1) ----
// §5.1 "JID Examples": user input ↔ escaped JID. Mapped to SIP, the user part must carry the user
// input (the unescaped form, %-encoded where SIP needs it) and come back as the same escaped JID.
const XEP0106_JID_EXAMPLES: [number, string, string][] = [
  [1, "space cadet", "space\\20cadet"],
  [2, 'call me "ishmael"', "call\\20me\\20\\22ishmael\\22"],
  [3, "at&t guy", "at\\26t\\20guy"],
  [4, "d'artagnan", "d\\27artagnan"],
  [5, "/.fanboy", "\\2f.fanboy"],
  [6, "::foo::", "\\3a\\3afoo\\3a\\3a"],
  [7, "<foo>", "\\3cfoo\\3e"],
  [8, "user@host", "user\\40host"],
  [9, "c:\\net", "c\\3a\\5cnet"],
  [10, "c:\\\\net", "c\\3a\\5c\\5cnet"],
  [11, "c:\\cool stuff", "c\\3a\\5ccool\\20stuff"],
  [12, "c:\\5commas", "c\\3a\\5c5commas"],
];

test("XEP-0106 §5.1 examples 1–12: JID → SIP user part is the user input; SIP → JID is the escaped JID", () => {
  for (const [n, input, escaped] of XEP0106_JID_EXAMPLES) {
    const uri = mapper.jidToSipUri(`${escaped}@example.com`);
    assert.equal(uri.user, input, `example ${n}`);
    assert.equal(mapper.sipUriToJid(formatUri(uri)).toString(), `${escaped}@example.com`, `example ${n}`);
  }
});

test("XEP-0106 §5.3 (SIP Addresses): the sip: URI example ↔ its JID", () => {
  // The XEP writes the URI with a bare "%zy" (cr%zy); RFC 3261 §25.1 allows "%" only before two hex
  // digits, so the valid form of that URI has %25zy. The JID is the XEP's, character for character.
  const jid = "here\\27s_a_wild_\\26_\\2fcr%zy\\2f_address@example.com";
  assert.equal(mapper.sipUriToJid("sip:here%27s_a_wild_%26_%2Fcr%25zy%2F_address@example.com").toString(), jid);
  // Back: the user part is the XEP's "URL-decoded address"; ' & / need no %-encoding in a SIP user part
  // (RFC 3261 §25.1 unreserved / user-unreserved), and escaped and plain forms compare equal (§19.1.4).
  const back = mapper.jidToSipUri(jid);
  assert.equal(back.user, "here's_a_wild_&_/cr%zy/_address");
  assert.equal(formatUri(back), "sip:here's_a_wild_&_/cr%25zy/_address@example.com");
  // The XEP's literal URI, with its bare "%zy", is refused (not a valid SIP URI), never guessed at.
  assert.throws(() => mapper.sipUriToJid("sip:here%27s_a_wild_%26_%2Fcr%zy%2F_address@example.com"), AddressMappingError);
});

test("XEP-0106 §4.2 step 3: a backslash sequence in the SIP user that looks like an escape is itself escaped (\\5c)", () => {
  assert.equal(mapper.sipUriToJid("sip:c%5C27x@example.com").toString(), "c\\5c27x@example.com");
  assert.equal(mapper.sipUriToJid("sip:x%5C5cy@example.com").toString(), "x\\5c5cy@example.com");
});

test("known divergence from XEP-0106 §4.2/§5.5: every backslash from SIP is escaped, as in the §3.2 table and §5.1 examples 9–11", () => {
  // XEP-0106 §5.5 turns \3and\2is\5cool into \5c3and\2is\5c5cool (the backslash of "\2i", not an escape
  // sequence, kept). We escape it too: the JIDs escaping clients make for such names (§5.1 examples 9–11:
  // "c:\net" → c\3a\5cnet) then come back unchanged when the SIP side answers, which §4.2 would break.
  assert.equal(mapper.sipUriToJid("sip:%5C3and%5C2is%5C5cool@example.com").toString(), "\\5c3and\\5c2is\\5c5cool@example.com");
  assert.equal(mapper.sipUriToJid("sip:c%3A%5Cnet@example.com").toString(), "c\\3a\\5cnet@example.com");
  // Both JIDs unescape to the same SIP user (§4.1 rule 3: "\2i" is not unescaped).
  assert.equal(mapper.jidToSipUri("\\5c3and\\2is\\5c5cool@example.com").user, "\\3and\\2is\\5cool");
  assert.equal(mapper.jidToSipUri("\\5c3and\\5c2is\\5c5cool@example.com").user, "\\3and\\2is\\5cool");
});

test("XEP-0106 §3.2 / §4.1 rule 6: a SIP user starting or ending with a space has no JID (\\20 first or last)", () => {
  for (const bad of ["sip:%20a@example.com", "sip:a%20@example.com"]) assert.throws(() => mapper.sipUriToJid(bad), AddressMappingError, bad);
});
