import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { serialize, type Element } from "./element.ts";
import type { StreamError } from "./stream-error.ts";
import {
  StreamParser,
  type StreamHeader,
  type StreamParserLimits,
  type StreamParserOptions,
} from "./stream-parser.ts";

const LIMITS: StreamParserLimits = {
  maxStanzaBytes: 4096,
  maxDepth: 20,
  maxAttributesPerElement: 20,
  maxHeaderBytes: 1024,
};
const HEADER =
  "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'" +
  " xmlns:db='jabber:server:dialback' from='remote.example' to='local.example' version='1.0'>";

interface Log {
  parser: StreamParser;
  headers: StreamHeader[];
  elements: { el: Element; xml: string; bytes: number }[];
  ended: number;
  errors: StreamError[];
  onElement?: (el: Element, parser: StreamParser) => void;
}

function harness(limits: Partial<StreamParserLimits> = {}, options?: StreamParserOptions): Log {
  const log: Log = { headers: [], elements: [], ended: 0, errors: [] } as unknown as Log;
  log.parser = new StreamParser(
    { ...LIMITS, ...limits },
    {
      onStreamStart: (h) => log.headers.push(h),
      onElement: (el, bytes) => {
        log.elements.push({ el, xml: serialize(el), bytes });
        log.onElement?.(el, log.parser);
      },
      onStreamEnd: () => log.ended++,
      onError: (err) => log.errors.push(err),
    },
    options,
  );
  return log;
}

function feed(
  input: string | Buffer,
  limits?: Partial<StreamParserLimits>,
  options?: StreamParserOptions,
): Log {
  const log = harness(limits, options);
  log.parser.write(input);
  return log;
}

function onlyError(log: Log): StreamError {
  assert.equal(
    log.errors.length,
    1,
    `expected one error, got ${log.errors.map((e) => e.message).join(", ")}`,
  );
  return log.errors[0] as StreamError;
}

function expectError(
  input: string | Buffer,
  condition: string,
  limits?: Partial<StreamParserLimits>,
): StreamError {
  const log = feed(input, limits);
  const err = onlyError(log);
  assert.equal(err.condition, condition, err.message);
  return err;
}

describe("StreamParser: a well-behaved stream", () => {
  it("reports the header, each stanza with its exact byte size, and the end", () => {
    const message =
      "<message to='juliet@local.example' from='romeo@remote.example' id='m1' type='chat'><body>Ça va ? 👋</body></message>";
    const result = "<db:result from='remote.example' to='local.example'>abc123</db:result>";
    const log = feed(HEADER + message + result + "</stream:stream>");
    assert.deepEqual(log.errors, []);
    assert.deepEqual(log.headers, [
      {
        attrs: { from: "remote.example", to: "local.example", version: "1.0" },
        namespaces: {
          "": "jabber:server",
          stream: "http://etherx.jabber.org/streams",
          db: "jabber:server:dialback",
        },
      },
    ]);
    assert.equal(log.elements.length, 2);
    const [m, r] = log.elements;
    assert.equal(m?.bytes, Buffer.byteLength(message));
    assert.equal(r?.bytes, Buffer.byteLength(result));
    assert.equal(m?.el.getNS(), "jabber:server");
    assert.equal(m?.el.getChildText("body"), "Ça va ? 👋");
    assert.equal(m?.el.attrs.to, "juliet@local.example");
    assert.ok(r?.el.is("result", "jabber:server:dialback"));
    assert.equal(r?.el.getText(), "abc123");
    assert.equal(log.ended, 1);
  });

  it("builds elements that serialize standalone, namespaces inherited from the root declared on them", () => {
    const log = feed(
      HEADER +
        "<iq type='get' id='1'><query xmlns='http://jabber.org/protocol/disco#info'/><db:x a='&lt;&amp;'/></iq>",
    );
    assert.deepEqual(log.errors, []);
    assert.equal(
      log.elements[0]?.xml,
      '<iq type="get" id="1" xmlns="jabber:server"><query xmlns="http://jabber.org/protocol/disco#info"/>' +
        '<db:x a="&lt;&amp;" xmlns:db="jabber:server:dialback"/></iq>',
    );
    const iq = log.elements[0]?.el;
    assert.equal(iq?.getChild("query")?.getNS(), "http://jabber.org/protocol/disco#info");
    assert.equal(iq?.getChild("x")?.getNS(), "jabber:server:dialback");
  });

  it("accepts a stream without the XML declaration, and CDATA as text", () => {
    const log = feed(
      HEADER.replace("<?xml version='1.0'?>", "") + "<message><body><![CDATA[<b>&]]> ok</body></message>",
    );
    assert.deepEqual(log.errors, []);
    assert.equal(log.elements[0]?.el.getChildText("body"), "<b>& ok");
  });

  it("accepts jabber:client as content namespace only when asked to", () => {
    const client = HEADER.replace("xmlns='jabber:server'", "xmlns='jabber:client'");
    assert.equal(onlyError(feed(client)).condition, "invalid-namespace");
    const log = feed(client + "<presence/>", {}, { acceptClientNamespace: true });
    assert.deepEqual(log.errors, []);
    assert.equal(log.elements[0]?.el.getNS(), "jabber:client");
  });

  it("ignores whitespace keepalives between stanzas and does not count them in the stanza size", () => {
    const log = harness();
    log.parser.write(HEADER);
    log.parser.write(" ");
    log.parser.write("\n\t \r\n");
    log.parser.write("<presence/>");
    log.parser.write(" ");
    log.parser.write("  <presence type='unavailable'/>  ");
    assert.deepEqual(log.errors, []);
    assert.deepEqual(
      log.elements.map((e) => [e.xml, e.bytes]),
      [
        ['<presence xmlns="jabber:server"/>', 11],
        ['<presence type="unavailable" xmlns="jabber:server"/>', 30],
      ],
    );
  });

  it("gives the same result whatever the chunking: every split point, and one byte at a time", () => {
    const input = Buffer.from(
      HEADER +
        "<message id='é1'><body>naïve — 日本語 😀 &amp; &#x1F600;\r\nline\rtwo</body></message>\r\n" +
        "<db:verify from='a' to='b' id='i'>k</db:verify></stream:stream>",
    );
    const whole = feed(input);
    assert.deepEqual(whole.errors, []);
    assert.equal(whole.elements.length, 2);
    const expected = JSON.stringify([
      whole.headers,
      whole.elements.map((e) => [e.xml, e.bytes]),
      whole.ended,
    ]);
    for (let i = 1; i < input.length; i++) {
      const log = harness();
      log.parser.write(input.subarray(0, i));
      log.parser.write(input.subarray(i));
      assert.deepEqual(log.errors, [], `split at ${i}`);
      assert.equal(
        JSON.stringify([log.headers, log.elements.map((e) => [e.xml, e.bytes]), log.ended]),
        expected,
        `split at ${i}`,
      );
    }
    const bytewise = harness();
    for (let i = 0; i < input.length; i++) bytewise.parser.write(input.subarray(i, i + 1));
    assert.equal(
      JSON.stringify([bytewise.headers, bytewise.elements.map((e) => [e.xml, e.bytes]), bytewise.ended]),
      expected,
    );
  });

  it("decodes a multi-byte character split across two chunks", () => {
    const log = harness();
    log.parser.write(HEADER + "<message><body>");
    const euro = Buffer.from("€"); // e2 82 ac
    const emoji = Buffer.from("🐟"); // f0 9f 90 9f
    log.parser.write(euro.subarray(0, 1));
    log.parser.write(Buffer.concat([euro.subarray(1), emoji.subarray(0, 3)]));
    log.parser.write(Buffer.concat([emoji.subarray(3), Buffer.from("</body></message>")]));
    assert.deepEqual(log.errors, []);
    assert.equal(log.elements[0]?.el.getChildText("body"), "€🐟");
    assert.equal(log.elements[0]?.bytes, Buffer.byteLength("<message><body>€🐟</body></message>"));
  });

  it("accepts a genuine U+FFFD character", () => {
    const log = feed(Buffer.from(HEADER + "<message><body>\uFFFD</body></message>"));
    assert.deepEqual(log.errors, []);
    assert.equal(log.elements[0]?.el.getChildText("body"), "\uFFFD");
  });

  it("parses a chunk much larger than one slice", () => {
    const stanza = "<message><body>" + "x".repeat(100) + "</body></message>";
    const log = feed(HEADER + stanza.repeat(1000), { maxStanzaBytes: 1000 });
    assert.deepEqual(log.errors, []);
    assert.equal(log.elements.length, 1000);
    assert.ok(log.elements.every((e) => e.bytes === stanza.length));
  });

  it("counts bytes exactly when a big chunk is cut into slices, a surrogate pair on the cut", () => {
    for (const pad of [16_370, 16_371, 16_372, 16_373]) {
      const text = "a".repeat(pad) + "😀é\r\n".repeat(3000);
      const stanza = `<message><body>${text}</body></message>`;
      const log = feed(Buffer.from(HEADER + stanza + "<presence/>"), { maxStanzaBytes: 1_000_000 });
      assert.deepEqual(log.errors, []);
      assert.equal(log.elements[0]?.bytes, Buffer.byteLength(stanza));
      assert.equal(log.elements[0]?.el.getChildText("body"), text.replace(/\r\n/g, "\n"));
      assert.equal(log.elements[1]?.bytes, "<presence/>".length);
    }
  });

  it("refuses to be fed from its own event handler", () => {
    const log = harness();
    log.onElement = (_el, parser) => parser.write("<presence/>");
    assert.throws(() => log.parser.write(HEADER + "<message/>"), /own event handlers/);
  });

  it("ends on </stream:stream> and ignores what follows", () => {
    const log = feed(HEADER + "<presence/></stream:stream><message/>garbage<");
    assert.equal(log.ended, 1);
    assert.equal(log.elements.length, 1);
    assert.deepEqual(log.errors, []);
    log.parser.write("<more/>");
    assert.equal(log.elements.length, 1);
    assert.deepEqual(log.errors, []);
  });

  it("accepts a self-closed stream as header and end", () => {
    const log = feed(HEADER.replace(/>$/, "/>"));
    assert.equal(log.headers.length, 1);
    assert.equal(log.ended, 1);
  });
});

describe("StreamParser: reset", () => {
  it("after STARTTLS, reset() in onElement drops the rest of the chunk and expects a new header", () => {
    const log = harness();
    log.onElement = (el, parser) => {
      if (el.is("starttls", "urn:ietf:params:xml:ns:xmpp-tls")) parser.reset();
    };
    // the <message/> after <starttls/> was sent in clear: it must not reach the protected stream
    log.parser.write(HEADER + "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><message to='injected'/>");
    assert.equal(log.elements.length, 1);
    log.parser.write(HEADER);
    log.parser.write("<message to='after-tls'/>");
    assert.deepEqual(log.errors, []);
    assert.equal(log.headers.length, 2);
    assert.deepEqual(
      log.elements.map((e) => e.el.attrs.to ?? e.el.getName()),
      ["starttls", "after-tls"],
    );
  });

  it("a restart after reset() reads the new stream header as a header, not as a second one", () => {
    const log = harness();
    log.onElement = (el, parser) => {
      if (el.is("success", "urn:ietf:params:xml:ns:xmpp-sasl")) parser.reset();
    };
    log.parser.write(HEADER + "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
    log.parser.write(HEADER + "<presence/>");
    assert.deepEqual(log.errors, []);
    assert.equal(log.headers.length, 2);
    assert.equal(log.elements.length, 2);
  });

  it("reset() between writes gives a fresh parser, even in the middle of a stanza", () => {
    const log = harness();
    log.parser.write(HEADER + "<message><body>half");
    log.parser.reset();
    log.parser.write(Buffer.from([0xc3])); // half of "é": the decoder is fresh too
    log.parser.reset();
    log.parser.write(HEADER + "<presence/>");
    assert.deepEqual(log.errors, []);
    assert.equal(log.headers.length, 2);
    assert.equal(log.elements.length, 1);
  });
});

describe("StreamParser: hostile input", () => {
  it("refuses malformed XML (mismatched tags) without delivering the broken stanza", () => {
    const log = feed(HEADER + "<message><body>hi</message>");
    assert.equal(onlyError(log).condition, "not-well-formed");
    assert.equal(log.elements.length, 0);
    const top = feed(HEADER + "<message></body>");
    assert.equal(onlyError(top).condition, "not-well-formed");
    assert.equal(top.elements.length, 0);
    const root = feed(HEADER + "</message>");
    assert.equal(onlyError(root).condition, "not-well-formed");
    assert.equal(root.ended, 0);
  });

  it("refuses other malformed input", () => {
    expectError(HEADER + "<message a='1' a='2'/>", "not-well-formed");
    expectError(HEADER + "<message a=1/>", "not-well-formed");
    expectError(HEADER + "<message>\u0001</message>", "not-well-formed");
    expectError(HEADER + "<message>&#0;</message>", "not-well-formed");
    expectError("hello" + HEADER, "not-well-formed");
    expectError(HEADER + "<<", "not-well-formed");
  });

  it("refuses a DOCTYPE", () => {
    expectError("<?xml version='1.0'?><!DOCTYPE stream:stream>" + HEADER.slice(21), "restricted-xml");
  });

  it("refuses an internal entity declaration", () => {
    expectError(
      `<!DOCTYPE stream [<!ENTITY x "evil">]>` + HEADER.slice(21) + "<message>&x;</message>",
      "restricted-xml",
    );
  });

  it("refuses a reference to an unknown entity", () => {
    expectError(HEADER + "<message><body>&nbsp;</body></message>", "restricted-xml");
  });

  it("refuses a billion-laughs attempt at once, without expanding anything", () => {
    const lols = ['<!ENTITY lol "lol">'];
    for (let i = 1; i <= 9; i++)
      lols.push(`<!ENTITY lol${i} "${`&lol${i === 1 ? "" : i - 1};`.repeat(10)}">`);
    const start = process.hrtime.bigint();
    const log = feed(
      `<?xml version="1.0"?><!DOCTYPE lolz [${lols.join("")}]>` +
        HEADER.slice(21) +
        "<message>&lol9;</message>",
    );
    assert.equal(onlyError(log).condition, "restricted-xml");
    assert.equal(log.elements.length, 0);
    assert.ok(process.hrtime.bigint() - start < 200_000_000n);
    // the same without the DTD: the references are simply unknown
    expectError(HEADER + "<message>&lol9;</message>", "restricted-xml");
  });

  it("refuses comments, before the root and inside a stanza", () => {
    expectError("<!-- hi -->" + HEADER.slice(21), "restricted-xml");
    expectError(HEADER + "<message><!-- hi --></message>", "restricted-xml");
    expectError(HEADER + "<!-- keepalive? -->", "restricted-xml");
  });

  it("refuses processing instructions, accepting only the XML declaration at the start", () => {
    expectError(HEADER + "<?php echo 1; ?>", "restricted-xml");
    expectError(HEADER + "<message><?target data?></message>", "restricted-xml");
    expectError(HEADER + "<?xml version='1.0'?>", "restricted-xml");
    expectError("<?xml-stylesheet href='x'?>" + HEADER.slice(21), "restricted-xml");
  });

  it("refuses an XML declaration naming another encoding or version", () => {
    expectError("<?xml version='1.0' encoding='ISO-8859-1'?>" + HEADER.slice(21), "unsupported-encoding");
    expectError("<?xml version='1.1'?>" + HEADER.slice(21), "bad-format");
  });

  it("refuses a root in the wrong namespace or with the wrong name", () => {
    expectError(
      HEADER.replace("xmlns:stream='http://etherx.jabber.org/streams'", "xmlns:stream='urn:wrong'"),
      "invalid-namespace",
    );
    expectError("<stream xmlns='jabber:server'>", "invalid-namespace");
    expectError("<html><body>", "invalid-namespace");
    expectError(HEADER.replace("<stream:stream", "<stream:foo"), "invalid-namespace");
  });

  it("refuses a content namespace other than jabber:server, or none", () => {
    expectError(HEADER.replace("xmlns='jabber:server'", "xmlns='jabber:client'"), "invalid-namespace");
    expectError(HEADER.replace("xmlns='jabber:server'", "xmlns='urn:evil'"), "invalid-namespace");
    expectError(HEADER.replace("xmlns='jabber:server' ", ""), "invalid-namespace");
  });

  it("refuses an undeclared prefix, on an element or on an attribute", () => {
    expectError(HEADER + "<foo:message/>", "bad-namespace-prefix");
    expectError(HEADER + "<message><x:y/></message>", "bad-namespace-prefix");
    expectError(HEADER + "<message x:a='1'/>", "bad-namespace-prefix");
    expectError("<?xml version='1.0'?><stream:stream xmlns='jabber:server'>", "bad-namespace-prefix");
  });

  it("refuses text other than whitespace between stanzas", () => {
    expectError(HEADER + "hello<message/>", "bad-format");
    expectError(HEADER + "<![CDATA[ ]]>", "bad-format");
  });

  it("refuses text between stanzas as soon as it arrives, without waiting for the next '<'", () => {
    const log = harness();
    log.parser.write(HEADER + "<presence/>");
    log.parser.write("  \n");
    assert.deepEqual(log.errors, [], "whitespace keepalives are fine");
    log.parser.write("  not a stanza");
    const err = onlyError(log);
    assert.equal(err.condition, "bad-format");
    assert.equal(err.text, "text between stanzas");
    assert.equal(log.elements.length, 1);
    // Right after the header, and text arriving one character at a time after whitespace.
    expectError(HEADER + "x", "bad-format");
    const slow = harness();
    slow.parser.write(HEADER);
    for (const c of " \t \r\n") slow.parser.write(c);
    assert.deepEqual(slow.errors, []);
    slow.parser.write("y");
    assert.equal(onlyError(slow).condition, "bad-format");
  });

  it("keeps text inside a stanza split across chunks, and keepalives in many chunks, without an error", () => {
    const log = harness();
    log.parser.write(HEADER);
    for (let i = 0; i < 50; i++) log.parser.write(" ");
    log.parser.write("<message><body>hel");
    log.parser.write("lo wor");
    log.parser.write("ld</bo");
    log.parser.write("dy></message>\n");
    log.parser.write("<message>text directly in the stanza, ");
    log.parser.write("then more</message>");
    assert.deepEqual(log.errors, []);
    assert.deepEqual(
      log.elements.map((e) => e.el.getText() || e.el.getChildText("body")),
      ["hello world", "text directly in the stanza, then more"],
    );
  });

  it("refuses a second stream header inside the open stream with bad-format, at once", () => {
    const log = harness();
    log.parser.write(HEADER + "<presence/>");
    log.parser.write(HEADER.replace("<?xml version='1.0'?>", ""));
    const err = onlyError(log);
    assert.equal(err.condition, "bad-format");
    assert.equal(err.text, "stream header inside an open stream");
    assert.equal(log.headers.length, 1);
    assert.equal(log.elements.length, 1);
    // Whatever the prefix: the name and the namespace make it a stream header.
    expectError(HEADER + "<s:stream xmlns:s='http://etherx.jabber.org/streams' xmlns='jabber:server'>", "bad-format");
    expectError(HEADER + "<stream xmlns='http://etherx.jabber.org/streams'>", "bad-format");
    // Other elements of the streams namespace, and <stream/> in another namespace, are not headers.
    const ok = feed(HEADER + "<stream:error><host-gone xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error><stream xmlns='urn:example'/>");
    assert.deepEqual(ok.errors, []);
    assert.equal(ok.elements.length, 2);
  });

  it("refuses a stanza one byte over the limit, with stanza-too-big; accepts one at the limit", () => {
    const stanza = "<message><body>é" + "x".repeat(50) + "</body></message>";
    const size = Buffer.byteLength(stanza);
    const ok = feed(HEADER + stanza, { maxStanzaBytes: size });
    assert.deepEqual(ok.errors, []);
    assert.equal(ok.elements[0]?.bytes, size);
    const err = expectError(HEADER + stanza, "policy-violation", { maxStanzaBytes: size - 1 });
    assert.equal(err.appCondition, "stanza-too-big");
  });

  it("refuses an oversized stanza as soon as the limit is crossed, before it ends", () => {
    const log = harness({ maxStanzaBytes: 1000 });
    log.parser.write(HEADER + "<message><body>");
    let written = 0;
    while (log.errors.length === 0 && written < 10_000) {
      log.parser.write("y".repeat(100));
      written += 100;
    }
    const err = onlyError(log);
    assert.equal(err.condition, "policy-violation");
    assert.equal(err.appCondition, "stanza-too-big");
    assert.ok(written <= 1000, `refused only after ${written} bytes`);
  });

  it("refuses an oversized stanza inside one huge chunk without parsing all of it", () => {
    const log = feed(HEADER + "<message><body>" + "z".repeat(5_000_000), { maxStanzaBytes: 10_000 });
    assert.equal(onlyError(log).appCondition, "stanza-too-big");
  });

  it("counts endless whitespace between stanzas against the stanza limit", () => {
    const log = harness({ maxStanzaBytes: 1000 });
    log.parser.write(HEADER);
    for (let i = 0; i < 20 && log.errors.length === 0; i++) log.parser.write(" ".repeat(100));
    assert.equal(onlyError(log).condition, "policy-violation");
  });

  it("refuses a stream header over its limit, even one never closed", () => {
    expectError(HEADER, "policy-violation", { maxHeaderBytes: 100 });
    const log = harness({ maxHeaderBytes: 1000 });
    log.parser.write("<stream:stream xmlns:stream='http://etherx.jabber.org/streams' to='");
    for (let i = 0; i < 20 && log.errors.length === 0; i++) log.parser.write("a".repeat(100));
    assert.equal(onlyError(log).condition, "policy-violation");
  });

  it("refuses 5,000-deep nesting with policy-violation, without overflowing the stack", () => {
    const deep = "<a>".repeat(5000) + "</a>".repeat(5000);
    const log = feed(HEADER + "<message>" + deep + "</message>", { maxStanzaBytes: 1_000_000 });
    assert.equal(onlyError(log).condition, "policy-violation");
    assert.equal(log.elements.length, 0);
    // at the limit exactly it is accepted
    const ok = feed(HEADER + "<a>".repeat(20) + "</a>".repeat(20));
    assert.deepEqual(ok.errors, []);
  });

  it("refuses an element with too many attributes, on a stanza or on the root", () => {
    const attrs = (n: number) => Array.from({ length: n }, (_, i) => ` a${i}='v'`).join("");
    assert.deepEqual(feed(HEADER + `<message${attrs(20)}/>`).errors, []);
    expectError(HEADER + `<message${attrs(21)}/>`, "policy-violation");
    expectError(HEADER + `<message><x${attrs(1000)}/></message>`, "policy-violation");
    expectError(HEADER.replace("version='1.0'>", `version='1.0'${attrs(20)}>`), "policy-violation");
  });

  it("refuses invalid UTF-8 bytes", () => {
    for (const bad of [
      [0xff],
      [0xc0, 0xaf],
      [0xed, 0xa0, 0x80],
      [0xe2, 0x28, 0xa1],
      [0x80],
      [0xf8, 0x88, 0x80, 0x80, 0x80],
    ]) {
      const log = harness();
      log.parser.write(HEADER + "<message><body>");
      log.parser.write(Buffer.from(bad));
      log.parser.write("</body></message>");
      assert.equal(onlyError(log).condition, "unsupported-encoding", `bytes ${bad.join(",")}`);
      assert.equal(log.elements.length, 0);
    }
  });

  it("refuses a truncated multi-byte sequence once the next chunk shows it", () => {
    const log = harness();
    log.parser.write(Buffer.from(HEADER + "<message><body>"));
    log.parser.write(Buffer.from([0xe2, 0x82]));
    log.parser.write(Buffer.from("</body></message>"));
    assert.equal(onlyError(log).condition, "unsupported-encoding");
  });

  it("reports one error and ignores everything afterwards", () => {
    const log = harness();
    log.parser.write(HEADER + "<message><!-- x --><iq/>");
    log.parser.write("<presence/></stream:stream>");
    log.parser.write(Buffer.from([0xff]));
    assert.equal(onlyError(log).condition, "restricted-xml");
    assert.equal(log.elements.length, 0);
    assert.equal(log.ended, 0);
  });
});
