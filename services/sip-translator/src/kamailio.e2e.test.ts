// The translator against a real Kamailio (registrar/proxy) and a real sipp UAS, in a network
// namespace of their own. Skipped where Kamailio, sipp or root are missing.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import type { SipDeliveryRequest, SipDeliveryResult } from "@passerelle/contracts";
import { createNetns, createScope, type Netns } from "@passerelle/testkit";
// The testkit's index does not export its SIP peers yet; import them from their files until it does.
import { startKamailio, type KamailioServer } from "../../../packages/testkit/src/kamailio.ts";
import { startSipUas } from "../../../packages/testkit/src/sipp.ts";

const have = (cmd: string): boolean => {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};
const skip = process.getuid?.() !== 0 || !have("kamailio") || !have("sipp") ? "needs root, kamailio and sipp" : false;
const driver = fileURLToPath(new URL("./testing/deliver-driver.ts", import.meta.url));

describe("sip-translator → Kamailio → sipp", { timeout: 90_000, skip }, () => {
  const scope = createScope("sip-translator-e2e");
  let netns: Netns;
  let kamailio: KamailioServer;

  before(async () => {
    netns = await createNetns(scope, { addresses: ["127.0.0.3", "127.0.0.4", "127.0.0.5"], label: "sipx" });
    kamailio = await startKamailio(scope, { netns, address: "127.0.0.4", domain: "sip.test", routes: [{ domain: "partner.test", target: "127.0.0.3:5070" }] });
  });
  after(() => scope.close());

  const request = (id: string, to: string, body: string): SipDeliveryRequest => ({
    v: 1, id, kind: "message", type: "chat", from: "romeo@partner.test/orchard", to, sipDomain: "sip.test",
    xml: `<message xmlns='jabber:server' type='chat' id='${id}' from='romeo@partner.test/orchard' to='${to}'><body>${body}</body></message>`,
  });

  async function run(transport: "udp" | "tcp", requests: SipDeliveryRequest[]): Promise<SipDeliveryResult[]> {
    const input = { listen: { host: "127.0.0.3", port: transport === "udp" ? 5070 : 5071, transport }, proxy: { host: "127.0.0.4", port: 5060, transport }, timeoutMs: 4000, domains: [{ xmpp: "contoso.test", sip: "sip.test" }], requests };
    const [cmd, args] = netns.wrap(process.execPath, ["--import", "tsx", driver, JSON.stringify(input)]);
    const out = execFileSync(cmd, args, { timeout: 30_000, encoding: "utf8" });
    return JSON.parse(out.trim().split("\n").pop() ?? "[]") as SipDeliveryResult[];
  }

  for (const transport of ["udp", "tcp"] as const) {
    it(`${transport}: Romeo's chat message reaches Carol's SIP agent; an unknown user comes back as item-not-found`, async () => {
      const user = `carol-${transport}`;
      const carol = await startSipUas(scope, { netns, address: "127.0.0.5", port: transport === "udp" ? 5100 : 5110, user, proxy: kamailio });
      const results = await run(transport, [request("m1", `${user}@contoso.test`, "Bonjour Carol"), request("m2", "nobody@contoso.test", "anyone?")]);
      assert.equal(results[0]?.outcome, "delivered", JSON.stringify(results));
      assert.equal(results[0]?.sipStatus, 200);
      const got = await carol.waitForMessage("Bonjour Carol", 5_000);
      assert.match(got.startLine, new RegExp(`^MESSAGE sip:${user}@`));
      assert.match(got.headers.get("from") ?? got.headers.get("From") ?? "", /sip:romeo@partner\.test;gr=orchard/);
      assert.equal(results[1]?.outcome, "failed");
      assert.equal(results[1]?.sipStatus, 404);
      assert.deepEqual(results[1]?.error, { type: "cancel", condition: "item-not-found", text: "SIP 404 Not Found" });
    });
  }
});
