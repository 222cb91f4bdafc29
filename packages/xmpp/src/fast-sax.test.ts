import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { it } from "node:test";

// V8 detail the parser's speed depends on (4x): the saxes object must keep fast properties once
// every handler is set. Checked in a child process, the only place %HasFastProperties is allowed.
it("keeps the saxes parser out of dictionary mode with all handlers set", () => {
  const parserModule = fileURLToPath(new URL("./stream-parser.ts", import.meta.url));
  const script = `
    import { StreamParser } from ${JSON.stringify(parserModule)};
    const noop = () => {};
    const p = new StreamParser({ maxStanzaBytes: 1e6, maxDepth: 10, maxAttributesPerElement: 10, maxHeaderBytes: 1e4 },
      { onStreamStart: noop, onElement: noop, onStreamEnd: noop, onError: noop });
    const hasFast = new Function("o", "return %HasFastProperties(o)");
    console.log(JSON.stringify(hasFast(p["sax"])));`;
  const child = spawnSync(
    process.execPath,
    ["--allow-natives-syntax", "--import", "tsx", "--input-type=module", "-e", script],
    {
      encoding: "utf8",
    },
  );
  assert.equal(child.status, 0, child.stderr);
  assert.equal(child.stdout.trim(), "true");
});
