// Throughput of @passerelle/xmpp's StreamParser on ~200-byte <message/> stanzas.
// Run: node --import tsx bench/xmpp-parser.ts
import { StreamParser, type Element } from "../packages/xmpp/src/index.ts";

const HEADER =
  "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'" +
  " xmlns:db='jabber:server:dialback' from='remote.example' to='local.example' id='b3nch' version='1.0'>";

function stanza(i: number, text = "but soft, what light through yonder window breaks?"): string {
  const id = String(i).padStart(8, "0");
  return (
    `<message from='romeo@remote.example/orchard' to='juliet@local.example' type='chat' id='m${id}'>` +
    `<body>Message ${id}: ${text}</body>` +
    "<active xmlns='http://jabber.org/protocol/chatstates'/></message>"
  );
}

const COUNT = 200_000;
const stanzas = Array.from({ length: COUNT }, (_, i) => stanza(i));
const body = Buffer.from(stanzas.join(""));
const perStanza = body.length / COUNT;
const accented = Buffer.from(
  Array.from({ length: COUNT }, (_, i) => stanza(i, "où es-tu, Roméo ? Ça va très bien 😀")).join(""),
);

function chunks(size: number, from: Buffer = body): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < from.length; i += size) out.push(from.subarray(i, i + size));
  return out;
}

function run(input: Buffer[]): { seconds: number; count: number } {
  let count = 0;
  let failed: Error | undefined;
  const parser = new StreamParser(
    { maxStanzaBytes: 262_144, maxDepth: 32, maxAttributesPerElement: 64, maxHeaderBytes: 4096 },
    {
      onStreamStart: () => undefined,
      onElement: (_el: Element) => {
        count++;
      },
      onStreamEnd: () => undefined,
      onError: (err) => {
        failed = err;
      },
    },
  );
  parser.write(HEADER);
  const start = process.hrtime.bigint();
  for (const c of input) parser.write(c);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (failed !== undefined) throw failed;
  if (count !== COUNT) throw new Error(`parsed ${count} of ${COUNT}`);
  return { seconds, count };
}

const cases: [string, Buffer[]][] = [
  ["16 KiB chunks", chunks(16_384)],
  ["1 stanza per write", stanzas.map((s) => Buffer.from(s))],
  ["non-ASCII, 16 KiB", chunks(16_384, accented)],
];
console.log(`${COUNT} stanzas of ${perStanza.toFixed(0)} bytes (${(body.length / 1e6).toFixed(1)} MB)`);
for (const [name, input] of cases) {
  run(input); // warm-up
  const runs = [run(input), run(input), run(input)].map((r) => r.seconds).sort((a, b) => a - b);
  const best = runs[0] ?? Number.NaN;
  const median = runs[1] ?? Number.NaN;
  const bytes = input.reduce((n, c) => n + c.length, 0);
  console.log(
    `${name.padEnd(20)} ${(bytes / 1e6 / median).toFixed(1)} MB/s, ${Math.round(COUNT / median).toLocaleString("en")} stanzas/s` +
      ` (median of 3; best ${Math.round(COUNT / best).toLocaleString("en")} stanzas/s)`,
  );
}
