// The outbound stream client against a real Prosody 0.12 in a test network namespace:
// STARTTLS, the certificate checked per RFC 9525, SASL EXTERNAL (XEP-0178), an iq round trip.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { createNetns, createScope, createTestCa, runCommand, startProsody, sweepStaleNetns } from "@passerelle/testkit";

const PROSODY = "127.0.0.2";
const scope = createScope("s2s-prosody");
after(() => scope.close());

test("connectS2S: STARTTLS + SASL EXTERNAL to Prosody, a stanza, a clean close", { timeout: 90_000 }, async () => {
  sweepStaleNetns();
  const netns = await createNetns(scope, { addresses: [PROSODY], hosts: { "prosody.test": PROSODY }, label: "s2s" });
  const ca = await createTestCa(scope.dir("pki"));
  const [prosodyCert, gatewayCert] = await Promise.all([
    ca.issue({ domains: ["prosody.test"], xmppIdentifiers: true }),
    ca.issue({ domains: ["gateway.test"], xmppIdentifiers: true }),
  ]);
  const prosody = await startProsody(scope, { netns, domain: "prosody.test", address: PROSODY, mode: "certificate", certificate: prosodyCert, caFile: ca.certFile });
  const probe = join(fileURLToPath(new URL(".", import.meta.url)), "testing", "prosody-probe.ts");
  const [command, args] = netns.wrap(process.execPath, ["--import", "tsx", probe]);
  const result = await runCommand(command, args, {
    timeoutMs: 30_000,
    env: {
      ...process.env,
      S2S_PROBE: JSON.stringify({
        localDomain: "gateway.test",
        remoteDomain: "prosody.test",
        target: { host: PROSODY, port: prosody.s2sPort, directTls: false },
        certFile: gatewayCert.chainFile,
        keyFile: gatewayCert.keyFile,
        caFile: ca.certFile,
      }),
    },
  });
  const line = result.stdout.trim().split("\n").pop() ?? "";
  const outcome = JSON.parse(line) as { ok: boolean; authentication?: string; tls?: { trusted: boolean; identityMatches: boolean }; sent?: boolean; closed?: string; error?: string };
  assert.equal(outcome.ok, true, `probe failed: ${outcome.error ?? result.stderr}`);
  assert.equal(outcome.authentication, "sasl-external");
  assert.equal(outcome.tls?.trusted, true);
  assert.equal(outcome.tls?.identityMatches, true);
  assert.equal(outcome.sent, true);
  assert.equal(outcome.closed, "clean");
  // What Prosody itself saw: our certificate accepted for gateway.test, then an orderly close.
  await prosody.waitForLog("Accepting SASL EXTERNAL identity from gateway.test", 5000);
  await prosody.waitForLog("Incoming s2s connection gateway.test->prosody.test complete", 5000);
  await prosody.waitForLog(/gateway\.test->prosody\.test closed: stream closed/, 5000);
});
