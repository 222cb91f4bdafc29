import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { test } from "node:test";
import { createTestCa } from "@passerelle/testkit";
import { loadConfigFile } from "@passerelle/config";
import { run } from "../cli.ts";
import { recordingContext, tempDir, writeConfig } from "../test-support.ts";
import { formatStep, runCheck, type StepResult } from "./run-check.ts";

// A DNS server that is not there (nothing listens on the discard port): lookups fail at once.
const NO_DNS = "127.0.0.1:9";

async function collect(options: Parameters<typeof runCheck>[0]): Promise<StepResult[]> {
  const results: StepResult[] = [];
  for await (const r of runCheck(options)) results.push(r);
  return results;
}

test("our certificate: names every local domain, its key, its dates — one result, with a hint when it fails", async (t) => {
  const dir = tempDir("check");
  t.after(() => rmSync(dir, { recursive: true }));
  const ca = await createTestCa(dir);
  const good = await ca.issue({ domains: ["contoso.example", "fabrikam.example"], name: "good", validDays: 365 });
  const partial = await ca.issue({ domains: ["contoso.example"], name: "partial" });
  const expired = await ca.issueExpired(["contoso.example", "fabrikam.example"], "expired");
  const soon = await ca.issue({ domains: ["contoso.example", "fabrikam.example"], name: "soon", validDays: 5 });
  const ours = async (certFile: string, keyFile: string): Promise<StepResult> => {
    const config = loadConfigFile(writeConfig(dir, { certFile, keyFile }));
    const results = await collect({ config, dnsServer: NO_DNS, timeoutMs: 1000 });
    const step = results.find((r) => r.step === "our certificate");
    assert.ok(step);
    return step;
  };

  const pass = await ours(good.certFile, good.keyFile);
  assert.equal(pass.status, "pass", pass.summary);
  assert.match(pass.summary, /DNS:contoso\.example, DNS:fabrikam\.example/);

  const missing = await ours(partial.certFile, partial.keyFile);
  assert.equal(missing.status, "fail");
  assert.match(missing.summary, /does not name fabrikam\.example/);
  assert.match(missing.hint ?? "", /passerelle cert request/);

  const wrongKey = await ours(good.certFile, partial.keyFile);
  assert.equal(wrongKey.status, "fail");
  assert.match(wrongKey.summary, /is not the key of this certificate/);

  const old = await ours(expired.certFile, expired.keyFile);
  assert.equal(old.status, "fail");
  assert.match(old.summary, /^expired on 2020-02-01/);

  const expiring = await ours(soon.certFile, soon.keyFile);
  assert.equal(expiring.status, "warn");
  assert.match(expiring.summary, /expires in [45] days/);
});

test("our SRV records: a lookup that fails is a failure naming the server, with a hint; without a partner nothing else is tried", async (t) => {
  const dir = tempDir("check");
  t.after(() => rmSync(dir, { recursive: true }));
  const config = loadConfigFile(writeConfig(dir));
  const results = await collect({ config, dnsServer: NO_DNS, timeoutMs: 1000 });
  assert.deepEqual(
    results.map((r) => [r.step, r.status]),
    [
      ["our SRV records (contoso.example)", "fail"],
      ["our SRV records (fabrikam.example)", "fail"],
      ["our edge reachable", "fail"], // edge.contoso.example cannot be looked up either
      ["our certificate", "fail"], // the files do not exist
    ],
  );
  assert.match(results[0]?.summary ?? "", /_xmpp-server\._tcp\.contoso\.example: lookup failed .*asked 127\.0\.0\.1:9/);
  assert.match(results[0]?.hint ?? "", /dns\.server/);
  assert.match(results[2]?.hint ?? "", /start the edge listener/);
});

test("a result is one line, its hint indented under it (never under a pass)", () => {
  assert.deepEqual(formatStep({ step: "partner DNS", status: "fail", summary: "nothing", hint: "publish it" }), ["FAIL  partner DNS: nothing", "      hint: publish it"]);
  assert.deepEqual(formatStep({ step: "partner DNS", status: "pass", summary: "found", hint: "unused" }), ["PASS  partner DNS: found"]);
});

test("passerelle check: registered, refuses a bad domain and bad options, exits 1 when a step fails", async (t) => {
  const dir = tempDir("check");
  t.after(() => rmSync(dir, { recursive: true }));
  const help = recordingContext(dir);
  assert.equal(await run(["check", "--help"], help), 0);
  assert.match(help.stdout.join("\n"), /usage: passerelle check \[partner-domain\]/);

  const bad = recordingContext(dir);
  assert.equal(await run(["check", "not a domain!"], bad), 1);
  assert.match(bad.stderr.join("\n"), /is not a domain name/);

  const config = writeConfig(dir);
  const wrongFrom = recordingContext(dir);
  assert.equal(await run(["check", "--config", config, "--from", "elsewhere.example"], wrongFrom), 1);
  assert.match(wrongFrom.stderr.join("\n"), /--from: elsewhere\.example is not one of our domains/);

  const failing = recordingContext(dir);
  assert.equal(await run(["check", "--config", config, "--dns-server", NO_DNS, "--timeout", "1"], failing), 1);
  assert.match(failing.stdout.at(-1) ?? "", /^FAILED: 4 steps, 4 failed/);
});
