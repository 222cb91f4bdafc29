import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { serialize, xml } from "./element.ts";
import { streamFeatures } from "./features.ts";
import { stanzaErrorReply } from "./stanza-error.ts";
import { StreamError, streamErrorElement } from "./stream-error.ts";
import { STREAM_CLOSE, streamHeader } from "./stream-header.ts";

describe("xml builder", () => {
  it("escapes attribute values and text, skips undefined", () => {
    const el = xml(
      "message",
      { to: `a"b'<c>&d`, type: undefined },
      xml("body", {}, "1 < 2 & 3 > 2 ]]>"),
      undefined,
    );
    assert.equal(
      serialize(el),
      '<message to="a&quot;b&apos;&lt;c&gt;&amp;d"><body>1 &lt; 2 &amp; 3 &gt; 2 ]]&gt;</body></message>',
    );
  });

  it("replaces characters XML cannot carry", () => {
    const el = xml("body", { a: "x\u0000y" }, "bell\u0007 lone\uD800 ok😀");
    assert.equal(serialize(el), '<body a="x\uFFFDy">bell\uFFFD lone\uFFFD ok😀</body>');
  });
});

describe("streamHeader", () => {
  it("writes the server-to-server header with the dialback namespace", () => {
    assert.equal(
      streamHeader({ from: "local.example", to: "remote.example", id: "s1", lang: "en", dialback: true }),
      "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'" +
        " xmlns:db='jabber:server:dialback' from='local.example' to='remote.example' id='s1' version='1.0' xml:lang='en'>",
    );
  });

  it("leaves out what is not given and escapes values", () => {
    assert.equal(
      streamHeader({ to: "it's<evil>", version: "1.0" }),
      "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'" +
        " to='it&apos;s&lt;evil&gt;' version='1.0'>",
    );
    assert.equal(STREAM_CLOSE, "</stream:stream>");
  });
});

describe("streamFeatures", () => {
  it("offers STARTTLS required", () => {
    assert.equal(
      serialize(streamFeatures({ starttls: "required" })),
      '<stream:features><starttls xmlns="urn:ietf:params:xml:ns:xmpp-tls"><required/></starttls></stream:features>',
    );
  });

  it("offers STARTTLS optional and dialback", () => {
    assert.equal(
      serialize(streamFeatures({ starttls: "optional", dialback: true })),
      '<stream:features><starttls xmlns="urn:ietf:params:xml:ns:xmpp-tls"/>' +
        '<dialback xmlns="urn:xmpp:features:dialback"/></stream:features>',
    );
  });

  it("offers SASL EXTERNAL and dialback with errors after TLS", () => {
    assert.equal(
      serialize(streamFeatures({ saslExternal: true, dialback: true, dialbackErrors: true })),
      '<stream:features><mechanisms xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><mechanism>EXTERNAL</mechanism></mechanisms>' +
        '<dialback xmlns="urn:xmpp:features:dialback"><errors/></dialback></stream:features>',
    );
  });

  it("is empty when nothing is offered", () => {
    assert.equal(serialize(streamFeatures({})), "<stream:features/>");
  });
});

describe("streamErrorElement", () => {
  it("writes the condition alone", () => {
    assert.equal(
      serialize(streamErrorElement(new StreamError("not-well-formed"))),
      '<stream:error><not-well-formed xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error>',
    );
  });

  it("writes condition, text and application condition", () => {
    const err = new StreamError("policy-violation", "stanza > 10000 bytes", "stanza-too-big");
    assert.equal(err.condition, "policy-violation");
    assert.equal(err.appCondition, "stanza-too-big");
    assert.ok(err instanceof Error);
    assert.equal(
      serialize(streamErrorElement(err)),
      '<stream:error><policy-violation xmlns="urn:ietf:params:xml:ns:xmpp-streams"/>' +
        '<text xmlns="urn:ietf:params:xml:ns:xmpp-streams">stanza &gt; 10000 bytes</text>' +
        '<stanza-too-big xmlns="urn:xmpp:errors"/></stream:error>',
    );
  });
});

describe("stanzaErrorReply", () => {
  it("swaps addresses, keeps the id, copies the payload and appends the error", () => {
    const message = xml(
      "message",
      {
        xmlns: "jabber:server",
        from: "romeo@remote.example/orchard",
        to: "juliet@local.example",
        id: "m1",
        type: "chat",
      },
      xml("body", {}, "Art thou there?"),
    );
    const reply = stanzaErrorReply(message, { type: "cancel", condition: "service-unavailable" });
    assert.equal(
      serialize(reply),
      '<message xmlns="jabber:server" from="juliet@local.example" to="romeo@remote.example/orchard" id="m1" type="error">' +
        "<body>Art thou there?</body>" +
        '<error type="cancel"><service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></message>',
    );
    // the original is left as it was
    assert.equal(
      serialize(message),
      '<message xmlns="jabber:server" from="romeo@remote.example/orchard" to="juliet@local.example" id="m1" type="chat">' +
        "<body>Art thou there?</body></message>",
    );
  });

  it("adds text and by, and answers an iq", () => {
    const iq = xml(
      "iq",
      { from: "a.example", to: "b.example", id: "q", type: "get" },
      xml("ping", { xmlns: "urn:xmpp:ping" }),
    );
    assert.equal(
      serialize(
        stanzaErrorReply(iq, {
          type: "wait",
          condition: "resource-constraint",
          text: "slow <down>",
          by: "b.example",
        }),
      ),
      '<iq from="b.example" to="a.example" id="q" type="error"><ping xmlns="urn:xmpp:ping"/>' +
        '<error type="wait" by="b.example"><resource-constraint xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>' +
        '<text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">slow &lt;down&gt;</text></error></iq>',
    );
  });

  it("leaves out addresses the original did not have", () => {
    const presence = xml("presence", { from: "a@x.example" });
    assert.equal(
      serialize(stanzaErrorReply(presence, { type: "modify", condition: "bad-request" })),
      '<presence to="a@x.example" type="error"><error type="modify"><bad-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></presence>',
    );
  });

  it("refuses to answer an error with an error", () => {
    assert.throws(
      () => stanzaErrorReply(xml("message", { type: "error" }), { type: "cancel", condition: "bad-request" }),
      TypeError,
    );
  });
});
