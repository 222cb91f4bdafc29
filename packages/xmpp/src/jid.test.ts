import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { escapeLocal, Jid, JidError, unescapeLocal } from "./jid.ts";

describe("Jid.parse", () => {
  it("splits the three parts (RFC 7622 §3.1)", () => {
    const j = Jid.parse("juliet@capulet.example/balcony");
    assert.equal(j.local, "juliet");
    assert.equal(j.domain, "capulet.example");
    assert.equal(j.resource, "balcony");
    assert.equal(j.toString(), "juliet@capulet.example/balcony");
    assert.equal(j.bare().toString(), "juliet@capulet.example");
    const d = Jid.parse("capulet.example");
    assert.equal(d.local, undefined);
    assert.equal(d.resource, undefined);
    assert.equal(d.toString(), "capulet.example");
  });

  it("takes the resource after the first slash, which may hold @ and /", () => {
    const j = Jid.parse("juliet@capulet.example/foo@bar/baz");
    assert.equal(j.resource, "foo@bar/baz");
    const k = Jid.parse("capulet.example/a@b");
    assert.equal(k.local, undefined);
    assert.equal(k.resource, "a@b");
  });

  it("lower-cases the domain and the localpart, not the resource", () => {
    const j = Jid.parse("Juliet@CAPULET.Example/Balcony");
    assert.equal(j.toString(), "juliet@capulet.example/Balcony");
    assert.ok(j.equals(Jid.parse("juliet@capulet.example/Balcony")));
    assert.ok(!j.equals(Jid.parse("juliet@capulet.example/balcony")));
  });

  it("maps an internationalized domain to its A-label (IDNA, punycode)", () => {
    assert.equal(Jid.parse("user@Bücher.Example").domain, "xn--bcher-kva.example");
    assert.equal(Jid.parse("münchen.example").domain, "xn--mnchen-3ya.example");
    assert.equal(Jid.parse("例え.テスト").domain, "xn--r8jz45g.xn--zckzah");
    assert.ok(Jid.parse("user@bücher.example").equals(Jid.parse("user@xn--bcher-kva.example")));
    assert.equal(Jid.parse("xn--bcher-kva.example").domain, "xn--bcher-kva.example");
  });

  it("strips one trailing dot from the domain", () => {
    assert.equal(Jid.parse("juliet@capulet.example.").domain, "capulet.example");
  });

  it("keeps non-ASCII localparts and resources, normalized to NFC", () => {
    const j = Jid.parse("E\u0301lodie@example.com/Tél\u00e9phone ☎");
    assert.equal(j.local, "élodie");
    assert.equal(j.resource, "Téléphone ☎");
    assert.equal(Jid.parse("ＪＵＬＩＥＴ@example.com").local, "juliet");
  });

  it("accepts IP literals", () => {
    assert.equal(Jid.parse("a@192.0.2.1").domain, "192.0.2.1");
    assert.equal(Jid.parse("a@[2001:DB8::1]/r").domain, "[2001:db8::1]");
  });

  it("accepts parts of exactly 1023 bytes and refuses 1024 (RFC 7622 §3.1)", () => {
    const local = "a".repeat(1023);
    assert.equal(Jid.parse(`${local}@example.com`).local, local);
    assert.throws(() => Jid.parse(`${local}a@example.com`), JidError);
    const resource = "é".repeat(511) + "a"; // 1023 bytes
    assert.equal(Jid.parse(`example.com/${resource}`).resource, resource);
    assert.throws(() => Jid.parse(`example.com/${resource}a`), JidError);
    const domain = Array.from({ length: 16 }, () => "a".repeat(63)).join("."); // 1023 bytes
    assert.equal(Jid.parse(domain).domain, domain);
    assert.throws(() => Jid.parse(`${domain}a`), JidError);
    assert.throws(() => Jid.parse(`${"a".repeat(64)}.example`), JidError);
  });

  it("refuses malformed addresses", () => {
    for (const bad of [
      "",
      "@example.com",
      "juliet@",
      "example.com/",
      "juliet@example.com/",
      "a@b@example.com",
      "jul iet@example.com",
      'jul"iet@example.com',
      "jul'iet@example.com",
      "jul<iet@example.com",
      "jul:iet@example.com",
      "jul&iet@example.com",
      "juliet@exa mple.com",
      "juliet@example..com",
      "juliet@-example.com",
      "juliet@example_com",
      "juliet@[::1",
      "juliet@[not-ip]",
      "juliet@example.com/a\u0000b",
      "jul\u0007iet@example.com",
      "juliet@xn--zz.example",
    ]) {
      assert.throws(() => Jid.parse(bad), JidError, JSON.stringify(bad));
    }
  });

  it("builds from parts", () => {
    assert.equal(
      new Jid("Romeo", "Montague.Example", "orchard").toString(),
      "romeo@montague.example/orchard",
    );
    assert.throws(() => new Jid("", "montague.example"), JidError);
  });
});

// XEP-0106 §5.1: user input → escaped JID, and back.
const EXAMPLES: [string, string][] = [
  ["space cadet", "space\\20cadet"],
  ['call me "ishmael"', "call\\20me\\20\\22ishmael\\22"],
  ["at&t guy", "at\\26t\\20guy"],
  ["d'artagnan", "d\\27artagnan"],
  ["/.fanboy", "\\2f.fanboy"],
  ["::foo::", "\\3a\\3afoo\\3a\\3a"],
  ["<foo>", "\\3cfoo\\3e"],
  ["user@host", "user\\40host"],
  ["c:\\net", "c\\3a\\5cnet"],
  ["c:\\\\net", "c\\3a\\5c\\5cnet"],
  ["c:\\cool stuff", "c\\3a\\5ccool\\20stuff"],
  ["c:\\5commas", "c\\3a\\5c5commas"],
];

describe("XEP-0106 escaping", () => {
  it("escapes and unescapes the examples of XEP-0106 §5.1", () => {
    for (const [input, escaped] of EXAMPLES) {
      assert.equal(escapeLocal(input), escaped, input);
      assert.equal(unescapeLocal(escaped), input, escaped);
      // the escaped form is a valid localpart
      assert.equal(Jid.parse(`${escaped}@example.com`).local, escaped.toLowerCase());
    }
  });

  it("unescapes only the ten defined sequences (XEP-0106 §4.3)", () => {
    assert.equal(unescapeLocal("\\2plus\\2is\\4"), "\\2plus\\2is\\4");
    assert.equal(unescapeLocal("foo\\bar"), "foo\\bar");
    assert.equal(unescapeLocal("foob\\41r"), "foob\\41r");
    assert.equal(unescapeLocal("\\5c3and\\2is\\5c5cool"), "\\3and\\2is\\5cool");
    assert.equal(unescapeLocal("tr\u00e9ville\\40musketeers.lit"), "tr\u00e9ville@musketeers.lit");
  });

  it("round-trips arbitrary strings", () => {
    for (const s of ["\\3and\\2is\\5cool", "a\\", "\\", "\\\\20", "x\\5c20y", "é@ü/ß", "a b\\27c"]) {
      assert.equal(unescapeLocal(escapeLocal(s)), s, s);
    }
  });

  it("refuses a leading or trailing space (XEP-0106 §4.1)", () => {
    assert.throws(() => escapeLocal(" cadet"), JidError);
    assert.throws(() => escapeLocal("cadet "), JidError);
  });
});

describe("Jid preparation cache", () => {
  it("gives the same prepared parts the second time, and refuses a bad part every time", () => {
    for (let i = 0; i < 3; i++) {
      const j = Jid.parse("Juliet@Capulet.Example/Balcony");
      assert.equal(j.toString(), "juliet@capulet.example/Balcony");
      assert.throws(() => Jid.parse("a@b..c"), JidError);
      assert.throws(() => Jid.parse(`${"x".repeat(1100)}@capulet.example`), JidError);
    }
  });
  it("stays bounded and correct past its size", () => {
    for (let i = 0; i < 5000; i++) assert.equal(Jid.parse(`User${i}@Example.test`).toString(), `user${i}@example.test`);
  });
});
