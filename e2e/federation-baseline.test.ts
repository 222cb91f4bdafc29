// Baseline federation between two real servers, no Passerelle involved: it proves the
// harness (namespace, bind9 SRV records, test CA, Prosody, ejabberd, c2s clients) before
// any scenario puts the gateway in the middle.
//
//   Alice  ── c2s ──  Prosody (prosody.test, 127.0.0.2)
//                         │  s2s: SRV lookup in bind9 (127.0.0.53), STARTTLS, SASL EXTERNAL
//   Bob    ── c2s ──  ejabberd (ejabberd.test, 127.0.0.6)
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { connectXmppClient, createScope, startFederationPair, sweepStaleNetns } from "@passerelle/testkit";
import type { FederationPair, XmppClient } from "@passerelle/testkit";

const alice = { username: "alice", password: "alice-secret" };
const bob = { username: "bob", password: "bob-secret" };

describe("federation baseline: prosody.test ⇄ ejabberd.test", { timeout: 120_000 }, () => {
  const scope = createScope("federation-baseline");
  let pair: FederationPair;
  let aliceClient: XmppClient;
  let bobClient: XmppClient;

  before(async () => {
    sweepStaleNetns();
    pair = await startFederationPair(scope, { mode: "certificate", prosodyUsers: [alice], ejabberdUsers: [bob] });
    [aliceClient, bobClient] = await Promise.all([
      connectXmppClient(scope, { netns: pair.netns, server: pair.prosody, ...alice, caFile: pair.ca.certFile }),
      connectXmppClient(scope, { netns: pair.netns, server: pair.ejabberd, ...bob, caFile: pair.ca.certFile }),
    ]);
  });

  // Everything started above — clients, servers, bind9, the namespace — goes, pass or fail.
  after(() => scope.close());

  it("publishes both domains only through SRV records", async () => {
    assert.equal(await pair.dns.dig("SRV", "_xmpp-server._tcp.prosody.test"), "0 5 5269 s2s.prosody.test.");
    assert.equal(await pair.dns.dig("SRV", "_xmpp-server._tcp.ejabberd.test"), "0 5 5269 s2s.ejabberd.test.");
    assert.equal(await pair.dns.dig("A", "prosody.test"), "");
  });

  it("carries Alice's message to Bob", async () => {
    // Alice on prosody.test sends "Hello Bob, this is Alice" to bob@ejabberd.test.
    await aliceClient.send("bob@ejabberd.test", "Hello Bob, this is Alice");

    // Bob on ejabberd.test receives exactly that body, from Alice.
    const message = await bobClient.waitForMessage({ body: "Hello Bob, this is Alice" }, 20_000);
    assert.match(message.from, /^alice@prosody\.test\//);
    assert.equal(message.type, "chat");
  });

  it("carries Bob's answer back to Alice", async () => {
    // Bob on ejabberd.test answers "Hi Alice — Bob here ✓" to alice@prosody.test.
    await bobClient.send("alice@prosody.test", "Hi Alice — Bob here ✓");

    // Alice on prosody.test receives exactly that body, from Bob.
    const message = await aliceClient.waitForMessage({ body: "Hi Alice — Bob here ✓" }, 20_000);
    assert.match(message.from, /^bob@ejabberd\.test\//);
  });

  it("authenticated both s2s streams with certificates, not dialback", async () => {
    // ejabberd accepted Prosody's stream with SASL EXTERNAL (our test CA, SRV-ID/DNS-ID)…
    await pair.ejabberd.waitForLog(/Accepted inbound s2s EXTERNAL authentication prosody\.test -> ejabberd\.test/, 10_000);
    // …and authenticated its own outbound stream to Prosody the same way.
    await pair.ejabberd.waitForLog(/Accepted outbound s2s EXTERNAL authentication ejabberd\.test -> prosody\.test/, 10_000);
    // Prosody completed both directions; dialback is not even loaded in certificate mode.
    await pair.prosody.waitForLog(/Incoming s2s connection ejabberd\.test->prosody\.test complete/, 10_000);
    await pair.prosody.waitForLog(/Outgoing s2s connection prosody\.test->ejabberd\.test complete/, 10_000);
    assert.doesNotMatch(readFileSync(pair.prosody.logFile, "utf8"), /dialback/i);
  });
});
