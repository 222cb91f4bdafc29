// `passerelle check <partner>` against a real Prosody partner, run as the admin would (the CLI
// process, the gateway's configuration file), inside the scene's namespace:
//
//   everything in place (certificate partner)   → every step passes (SASL EXTERNAL), exit 0
//   a dialback partner (self-signed certificate) → the dialback round trip passes through our
//                                                 edge and authority; the certificate warns; exit 0
//   the partner's SRV record removed            → "partner DNS" fails with its hint, exit 1
//   the partner's certificate swapped for one
//   naming wrong-name.prosody.test              → "partner certificate" fails with its hint, exit 1
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createScope, repoRoot, startProsody, sweepStaleNetns, xmppServerRecords, type ProsodyServer } from "@passerelle/testkit";
import { ADMIN_TOKEN, GATEWAY_ADDRESS, GATEWAY_DOMAIN, startScene, type Scene } from "./lib/gateway-scenario.ts";

const PARTNER = "prosody.test";
const PARTNER_ADDRESS = "127.0.0.2";
const DIALBACK_PARTNER = "dbtls.test";
const alice = { username: "alice", password: "alice-pw" };
const bob = { username: "bob", password: "bob-pw" };

interface Run {
  code: number;
  lines: string[];
  out: string;
}

describe("passerelle check against a real Prosody partner", { timeout: 120_000 }, () => {
  const scope = createScope("check");
  let scene: Scene;

  before(async () => {
    sweepStaleNetns();
    scene = await startScene(
      scope,
      [
        { kind: "prosody", domain: PARTNER, address: PARTNER_ADDRESS, mode: "certificate", users: [alice], partner: { type: "federated", tls: "required", sasl: "optional", dialback: true } },
        { kind: "prosody", domain: DIALBACK_PARTNER, address: "127.0.0.7", mode: "dialback-tls", users: [bob], partner: { type: "federated", tls: "required", sasl: "optional", dialback: true } },
      ],
      {},
      // Our SRV record names the edge FQDN of the configuration (gateway.test:5269).
      { gatewayRecords: xmppServerRecords(GATEWAY_DOMAIN, GATEWAY_ADDRESS) },
    );
  });

  after(() => scope.close());

  async function check(...args: string[]): Promise<Run> {
    return checkWith({}, ...args);
  }
  async function checkWith(env: NodeJS.ProcessEnv, ...args: string[]): Promise<Run> {
    const result = await scene.netns.exec(process.execPath, [join(repoRoot, "packages", "cli", "bin", "passerelle.mjs"), "check", ...args, "--config", scene.gateway.configFile, "--timeout", "8", "--warn-days", "7"], {
      timeoutMs: 50_000,
      allowFailure: true,
      env: { ...process.env, PASSERELLE_ADMIN_TOKEN: "", ...env },
    });
    const out = `${result.stdout}${result.stderr}`;
    console.log(out.replace(/^/gm, "# "));
    return { code: result.code ?? -1, lines: result.stdout.split("\n").filter((l) => l !== ""), out };
  }
  const lineOf = (run: Run, step: string): string => {
    const line = run.lines.find((l) => l.slice(6).startsWith(`${step}:`));
    assert.ok(line, `no "${step}" line in:\n${run.out}`);
    return line;
  };
  const hintAfter = (run: Run, step: string): string => {
    const i = run.lines.indexOf(lineOf(run, step));
    const hint = run.lines[i + 1] ?? "";
    assert.ok(hint.startsWith("      hint: "), `no hint under "${step}":\n${run.out}`);
    return hint;
  };

  it("everything in place: every step passes and the exit code is 0", async () => {
    const run = await check(PARTNER);
    assert.equal(run.code, 0, run.out);
    for (const step of [
      `our SRV records (${GATEWAY_DOMAIN})`,
      "our edge reachable",
      "our certificate",
      "partner entry",
      "partner DNS",
      "partner reachable",
      "partner TLS",
      "partner certificate",
      "negotiation",
      "SASL EXTERNAL",
    ]) {
      assert.match(lineOf(run, step), /^PASS {2}/, run.out);
    }
    assert.match(lineOf(run, "partner DNS"), /_xmpp-server\._tcp\.prosody\.test → s2s\.prosody\.test:5269/);
    assert.match(lineOf(run, "partner reachable"), /127\.0\.0\.2/);
    assert.match(lineOf(run, "partner TLS"), /STARTTLS required.*TLSv1\.[23].*then offers SASL EXTERNAL/);
    assert.match(lineOf(run, "negotiation"), /usable: SASL EXTERNAL/);
    // This Prosody runs without dialback: the round trip is not possible, and says why.
    assert.match(lineOf(run, "dialback round trip"), /^SKIP {2}dialback round trip: prosody\.test does not offer dialback/);
    assert.match(run.lines.at(-1) ?? "", /^OK: 11 steps, 0 failed, 0 with warnings/);
  });

  it("a dialback partner: the round trip goes through our edge and authority; its self-signed certificate only warns", async () => {
    const before = await verifyRequests(scene);
    const run = await check(DIALBACK_PARTNER);
    assert.equal(run.code, 0, run.out);
    assert.match(lineOf(run, "dialback round trip"), /^PASS {2}dialback round trip: dbtls\.test verified our key for gateway\.test/);
    assert.match(lineOf(run, "partner certificate"), /^WARN {2}partner certificate: names dbtls\.test but is not trusted .*dialback can still authenticate them/);
    assert.match(hintAfter(run, "partner certificate"), /edge\.tls\.caFile/);
    assert.match(lineOf(run, "negotiation"), /^PASS .*dialback/);
    // Prosody dialled back gateway.test: our edge asked the authority to verify the key the CLI made.
    assert.ok((await verifyRequests(scene)) > before, "the edge asked the dialback authority to verify a key");
  });

  it("an unknown partner domain fails the entry step with the command that adds it", async () => {
    const run = await check("stranger.test");
    assert.equal(run.code, 1);
    assert.match(lineOf(run, "partner entry"), /^FAIL {2}partner entry: stranger\.test is not a partner/);
    assert.match(hintAfter(run, "partner entry"), /passerelle partner new stranger\.test/);
  });

  it("the partner's SRV record removed: the DNS step fails with its hint, later steps are skipped, exit 1", async () => {
    const withoutSrv = xmppServerRecords(PARTNER, PARTNER_ADDRESS, { srvOnly: true }).filter((r) => r.type !== "SRV");
    scene.dns.replaceZone({ domain: PARTNER, records: withoutSrv });
    await until(async () => (await scene.dns.dig("SRV", `_xmpp-server._tcp.${PARTNER}`)) === "", "bind9 serves the zone without the SRV record");
    try {
      const run = await check(PARTNER);
      assert.equal(run.code, 1, run.out);
      assert.match(lineOf(run, "partner DNS"), /^FAIL {2}partner DNS: no _xmpp-server\._tcp\.prosody\.test SRV record and no A\/AAAA record for prosody\.test/);
      assert.match(hintAfter(run, "partner DNS"), /publish "_xmpp-server\._tcp\.prosody\.test\. SRV 0 5 5269 <their server>\.", or set proxyFqdn/);
      assert.match(lineOf(run, "partner reachable"), /^SKIP/);
      assert.match(lineOf(run, "our certificate"), /^PASS/);
      assert.match(run.lines.at(-1) ?? "", /^FAILED: 11 steps, 1 failed/);
    } finally {
      scene.dns.replaceZone({ domain: PARTNER, records: xmppServerRecords(PARTNER, PARTNER_ADDRESS, { srvOnly: true }) });
      await until(async () => (await scene.dns.dig("SRV", `_xmpp-server._tcp.${PARTNER}`)) !== "", "bind9 serves the SRV record again");
    }
  });

  it("the partner's certificate swapped for one with the wrong name: the certificate step fails with its hint, exit 1", async () => {
    const old = scene.servers.get(PARTNER) as ProsodyServer | undefined;
    assert.ok(old);
    await old.process.stop();
    const wrong = await scene.ca.issueWrongName(PARTNER);
    await startProsody(scope, { netns: scene.netns, domain: PARTNER, address: PARTNER_ADDRESS, mode: "certificate", caFile: scene.ca.certFile, users: [alice], certificate: wrong, name: "prosody-swapped" });
    const run = await check(PARTNER);
    assert.equal(run.code, 1, run.out);
    assert.match(lineOf(run, "partner certificate"), /^FAIL {2}partner certificate: does not name prosody\.test \(it names DNS:wrong-name\.prosody\.test/);
    // This Prosody offers no dialback: the hint does not pretend dialback could stand in.
    assert.match(hintAfter(run, "partner certificate"), /must carry prosody\.test as a DNS name \(or SRV-ID _xmpp-server\.prosody\.test\); ask their admin to fix it$/);
    assert.match(lineOf(run, "partner DNS"), /^PASS/);
    assert.match(lineOf(run, "partner reachable"), /^PASS/);
  });

  it("with an admin token, the entry in force is the admin API's: dialback switched off there for a self-signed partner makes the check fail, saying why", async () => {
    const policyUrl = scene.gateway.services.find((s) => s.name === "policy")?.httpUrl ?? "";
    const changed = await scene.admin("PATCH", `/v1/partners/${DIALBACK_PARTNER}`, { dialback: false });
    assert.equal(changed.status, 200, changed.body);
    try {
      const run = await checkWith({ PASSERELLE_ADMIN_TOKEN: ADMIN_TOKEN, PASSERELLE_ADMIN_URL: policyUrl }, DIALBACK_PARTNER);
      assert.equal(run.code, 1, run.out);
      assert.match(lineOf(run, "partner entry"), /^PASS {2}partner entry: dbtls\.test \(federated\): TLS required, SASL optional, dialback not allowed, from the admin API/);
      // Without dialback, the self-signed certificate is no longer a warning but the reason nothing can work.
      assert.match(lineOf(run, "partner certificate"), /^FAIL {2}partner certificate: names dbtls\.test but is not trusted/);
      assert.match(hintAfter(run, "partner certificate"), /SASL EXTERNAL needs a trusted certificate/);
      assert.match(lineOf(run, "SASL EXTERNAL"), /^FAIL/);
      assert.match(hintAfter(run, "SASL EXTERNAL"), /we do not trust dbtls\.test's certificate/);
      assert.match(lineOf(run, "dialback round trip"), /^SKIP {2}dialback round trip: dialback is not allowed for this partner/);

      // The API out of reach: the configuration file's entry (dialback allowed) is used, and the step
      // warns. The gateway itself follows the API's entry, so Prosody's dial-back to our edge is
      // refused and the round trip fails, with the hint.
      const unreachable = await checkWith({ PASSERELLE_ADMIN_TOKEN: ADMIN_TOKEN, PASSERELLE_ADMIN_URL: "http://127.0.0.1:1" }, DIALBACK_PARTNER);
      assert.match(lineOf(unreachable, "partner entry"), /^WARN {2}partner entry: .*dialback allowed, from the configuration file \(the admin API could not be asked: cannot reach the admin API/);
      assert.match(hintAfter(unreachable, "partner entry"), /PASSERELLE_ADMIN_URL/);
      assert.match(lineOf(unreachable, "dialback round trip"), /^FAIL/);
      assert.match(hintAfter(unreachable, "dialback round trip"), /dbtls\.test could not verify our key: it dials back to _xmpp-server\._tcp\.gateway\.test \(gateway\.test:5269\)/);
    } finally {
      await scene.admin("PATCH", `/v1/partners/${DIALBACK_PARTNER}`, { dialback: true });
    }
  });
});

/** How many db:verify requests the edge sent the dialback authority (its bus metric). */
async function verifyRequests(scene: Scene): Promise<number> {
  const url = scene.gateway.services.find((s) => s.name === "edge-listener")?.httpUrl ?? "";
  const script = `fetch(${JSON.stringify(`${url}/metrics`)},{signal:AbortSignal.timeout(3000)}).then(r=>r.text()).then(t=>console.log(t),e=>console.log(String(e)))`;
  const text = (await scene.netns.exec(process.execPath, ["-e", script], { timeoutMs: 8000, allowFailure: true })).stdout;
  return text
    .split("\n")
    .filter((l) => l.startsWith("passerelle_bus_messages_total{") && l.includes('subject="passerelle.v1.dialback.verify"') && l.includes('direction="out"') && l.includes('outcome="answered"'))
    .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
}

async function until(test: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await test()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`not within ${timeoutMs} ms: ${what}`);
}
