// Self-test of the SIP peers: Kamailio as registrar/proxy, a sipp UAS registered there,
// a sipp UAC sending MESSAGEs through it; plus routing of a partner domain to a "gateway".
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startKamailio } from "./kamailio.ts";
import type { KamailioServer } from "./kamailio.ts";
import { createNetns } from "./netns.ts";
import type { Netns } from "./netns.ts";
import { createScope } from "./scope.ts";
import { sendSipMessage, startSipUas } from "./sipp.ts";

describe("kamailio + sipp", { timeout: 60_000 }, () => {
  const scope = createScope("testkit-sip");
  let netns: Netns;
  let kamailio: KamailioServer;

  before(async () => {
    netns = await createNetns(scope, { addresses: ["127.0.0.3", "127.0.0.4", "127.0.0.5"], label: "sip" });
    kamailio = await startKamailio(scope, {
      netns,
      address: "127.0.0.4",
      domain: "sip.test",
      routes: [{ domain: "partner.test", target: "127.0.0.3:5070" }],
      presence: true,
    });
  });
  after(() => scope.close());

  it("delivers a MESSAGE to a registered sipp UAS and reports 200", async () => {
    // Carol registers 127.0.0.5:5100 as her contact at sip.test.
    const carol = await startSipUas(scope, { netns, address: "127.0.0.5", port: 5100, user: "carol-1", proxy: kamailio });
    // Dave sends her "Bonjour Carol" through Kamailio…
    const result = await sendSipMessage(scope, {
      netns, address: "127.0.0.5", port: 5200, from: "sip:dave@sip.test", to: "sip:carol-1@sip.test",
      body: "Bonjour Carol", proxy: kamailio,
    });
    // …gets 200, and Carol's agent received exactly that body.
    assert.equal(result.code, 200);
    const message = await carol.waitForMessage("Bonjour Carol", 5_000);
    assert.match(message.headers.get("from") ?? "", /sip:dave@sip\.test/);
  });

  it("answers 404 for an unknown user", async () => {
    const result = await sendSipMessage(scope, {
      netns, address: "127.0.0.5", port: 5201, from: "sip:dave@sip.test", to: "sip:nobody@sip.test", body: "anyone?", proxy: kamailio,
    });
    assert.equal(result.code, 404);
  });

  it("routes the partner domain to the gateway's SIP address", async () => {
    // A stand-in gateway (a sipp UAS on 127.0.0.3:5070) receives what Kamailio routes to partner.test.
    const gateway = await startSipUas(scope, {
      netns, address: "127.0.0.3", port: 5070, user: "gw-stand-in", proxy: kamailio,
    });
    const result = await sendSipMessage(scope, {
      netns, address: "127.0.0.5", port: 5202, from: "sip:dave@sip.test", to: "sip:erin@partner.test", body: "to the partner", proxy: kamailio,
    });
    assert.equal(result.code, 200);
    const message = await gateway.waitForMessage("to the partner", 5_000);
    assert.match(message.startLine, /^MESSAGE sip:erin@partner\.test SIP\/2\.0$/);
  });
});
