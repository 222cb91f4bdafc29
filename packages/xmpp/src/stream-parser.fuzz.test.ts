import assert from "node:assert/strict";
import { it } from "node:test";
import { serialize } from "./element.ts";
import { StreamParser } from "./stream-parser.ts";

// Mutated streams, fed whole and cut at random places: write() never throws, onError fires at most
// once, and the chunking changes nothing but the moment a size limit is seen to be crossed.

const VALID = Buffer.from(
  "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'" +
    " xmlns:db='jabber:server:dialback' to='a.example' from='b.example' version='1.0'>" +
    "<db:result to='a.example' from='b.example'>k3y</db:result> " +
    "<message to='j@a.example' from='r@b.example' type='chat' id='1'><body>héllo &amp; 😀</body>" +
    "<active xmlns='http://jabber.org/protocol/chatstates'/></message>\n" +
    "<iq type='get' id='2'><query xmlns='jabber:iq:version'><![CDATA[x<y]]></query></iq>" +
    "<presence/></stream:stream>",
);
const TOKENS = [
  "<!--",
  "-->",
  "<?",
  "?>",
  "&",
  "&lt;",
  "&bogus;",
  "&#0;",
  "<!DOCTYPE x>",
  "<!ENTITY a 'b'>",
  "</",
  "<",
  ">",
  "/>",
  "'",
  '"',
  "x:y",
  " xmlns='urn:x'",
  " xmlns:x='urn:y'",
  " a='1' a='2'",
  "<a><a><a><a>",
  "\r",
  "\u0000",
  "]]>",
  "<![CDATA[",
];

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mutate(input: Buffer, random: () => number): Buffer {
  let out = input;
  const n = 1 + Math.floor(random() * 3);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(random() * out.length);
    const kind = Math.floor(random() * 4);
    if (kind === 0) {
      const copy = Buffer.from(out);
      copy[at] = Math.floor(random() * 256);
      out = copy;
    } else if (kind === 1) {
      const token = Buffer.from(TOKENS[Math.floor(random() * TOKENS.length)] ?? "<");
      out = Buffer.concat([out.subarray(0, at), token, out.subarray(at)]);
    } else if (kind === 2) {
      out = Buffer.concat([out.subarray(0, at), out.subarray(at + 1 + Math.floor(random() * 20))]);
    } else {
      const end = Math.min(out.length, at + 1 + Math.floor(random() * 60));
      out = Buffer.concat([out.subarray(0, end), out.subarray(at, end), out.subarray(end)]);
    }
  }
  return out;
}

interface Trace {
  elements: string[];
  errors: string[];
  ended: number;
}

function parse(chunks: Buffer[]): Trace {
  const trace: Trace = { elements: [], errors: [], ended: 0 };
  const parser = new StreamParser(
    { maxStanzaBytes: 400, maxDepth: 3, maxAttributesPerElement: 8, maxHeaderBytes: 300 },
    {
      onStreamStart: () => undefined,
      onElement: (el, bytes) => trace.elements.push(`${bytes} ${serialize(el)}`),
      onStreamEnd: () => trace.ended++,
      onError: (err) => trace.errors.push(err.condition),
    },
  );
  for (const c of chunks) parser.write(c);
  return trace;
}

// FUZZ_ROUNDS and FUZZ_SEED widen the search locally; the default run stays under a second.
const ROUNDS = Number(process.env.FUZZ_ROUNDS ?? 2000);
const SEED = Number(process.env.FUZZ_SEED ?? 20260101);

it(`survives ${ROUNDS} mutated streams, whatever the chunking`, () => {
  const random = rng(SEED);
  let refused = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const input = mutate(VALID, random);
    const whole = parse([input]);
    const cuts: Buffer[] = [];
    for (let at = 0; at < input.length;) {
      const len = 1 + Math.floor(random() * 40);
      cuts.push(input.subarray(at, at + len));
      at += len;
    }
    const split = parse(cuts);
    const context = JSON.stringify(input.toString("latin1"));
    assert.ok(whole.errors.length <= 1 && split.errors.length <= 1, context);
    assert.equal(split.ended, whole.ended, context);
    if (split.errors[0] === whole.errors[0]) {
      assert.deepEqual(split.elements, whole.elements, context);
    } else {
      // Size limits are checked as input arrives, so with small chunks an oversized header or stanza can be
      // refused before a later well-formedness error that a single chunk reports first.
      assert.ok(split.errors[0] === "policy-violation" || whole.errors[0] === "policy-violation", context);
      const [shorter, longer] =
        split.elements.length <= whole.elements.length
          ? [split.elements, whole.elements]
          : [whole.elements, split.elements];
      assert.deepEqual(longer.slice(0, shorter.length), shorter, context);
    }
    if (whole.errors.length > 0) refused++;
  }
  assert.ok(refused > ROUNDS / 4, `only ${refused} mutated streams refused`);
});
