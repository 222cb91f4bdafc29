// Publishing our SRV records, end to end: the dns-registrar alone (with real NATS and Redis)
// against a real bind9 holding two dynamic zones and a TSIG key, all inside one namespace.
//
//   gateway.test  no SRV record yet                 → published
//   second.test   an old SRV record (wrong port)     → replaced; its TXT at the same name stays
//   a registrar with a wrong secret                  → refused by bind9 (NOTAUTH/BADSIG), reported
//   the configuration file changes while it runs:    the edge FQDN and port → records replaced;
//     an invalid file → reported, nothing changes; second.test removed → the record we published
//     there is deleted, a record someone else added to the same RRset stays
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { RawConfig } from "@passerelle/config";
import { startGateway, type Gateway } from "@passerelle/launcher";
import { createNetns, createScope, repoRoot, sleep, startBind9, startNats, startRedis, sweepStaleNetns, type Bind9Server, type Netns } from "@passerelle/testkit";

const DNS_ADDRESS = "127.0.0.53";
const GATEWAY_ADDRESS = "127.0.0.3";
const EDGE = "edge.gateway.test";

type LogLine = Record<string, unknown>;

function logLines(gateway: Gateway): LogLine[] {
  const service = gateway.services.find((s) => s.name === "dns-registrar");
  assert.ok(service);
  return linesOf(service.process.logFile);
}

/** The registrar's log file is the same for every gateway of the scope (appended to): tests skip the lines before theirs. */
function linesOf(file: string): LogLine[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => {
      try {
        return JSON.parse(l) as LogLine;
      } catch {
        return {};
      }
    });
}

async function waitForLine(gateway: Gateway, test: (l: LogLine) => boolean, timeoutMs = 15_000, since = 0): Promise<LogLine> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const found = logLines(gateway).slice(since).find(test);
    if (found !== undefined) return found;
    await sleep(100);
  }
  throw new Error(`no such dns-registrar log line within ${timeoutMs} ms; last lines:\n${logLines(gateway).slice(-10).map((l) => JSON.stringify(l)).join("\n")}`);
}

/** A sample's value from the Prometheus text, whatever other labels (e.g. service) it carries. */
function sample(text: string, name: string, label: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && l.includes(label));
  return line === undefined ? undefined : Number(line.split(" ").at(-1));
}

async function metrics(netns: Netns, url: string): Promise<string> {
  const script = `fetch(${JSON.stringify(`${url}/metrics`)},{signal:AbortSignal.timeout(3000)}).then(r=>r.text()).then(t=>console.log(t),e=>console.log(String(e)))`;
  return (await netns.exec(process.execPath, ["-e", script], { timeoutMs: 8000, allowFailure: true })).stdout;
}

/** Publishes one `passerelle.v1.config.changed` event from inside the namespace (as policy does after an admin change). */
async function publishConfigChanged(netns: Netns, natsUrl: string, event: Record<string, unknown>): Promise<void> {
  const script = `const { connect } = require("@nats-io/transport-node");
(async () => { const nc = await connect({ servers: ${JSON.stringify(natsUrl)} }); nc.publish("passerelle.v1.config.changed", JSON.stringify(${JSON.stringify(event)})); await nc.drain(); console.log("published"); })().catch((e) => { console.log(String(e)); process.exit(1); });`;
  // Run from the runtime package, whose node_modules hold the NATS client.
  const result = await netns.exec(process.execPath, ["-e", script], { cwd: join(repoRoot, "packages", "runtime"), timeoutMs: 10_000, allowFailure: true });
  assert.equal(result.stdout.trim(), "published", result.stderr);
}

describe("dns-registrar publishes our SRV records by signed dynamic update", { timeout: 120_000 }, () => {
  const scope = createScope("dns-publish");
  let netns: Netns;
  let dns: Bind9Server;
  let config: (secretFile: string, httpPort: number) => RawConfig;

  before(async () => {
    sweepStaleNetns();
    netns = await createNetns(scope, { addresses: [DNS_ADDRESS, GATEWAY_ADDRESS], nameserver: DNS_ADDRESS, label: "dnspub" });
    dns = await startBind9(scope, {
      netns,
      address: DNS_ADDRESS,
      zones: [
        { domain: "gateway.test", dynamic: true, records: [{ type: "A", name: EDGE, address: GATEWAY_ADDRESS }] },
        {
          domain: "second.test",
          dynamic: true,
          records: [
            { type: "SRV", name: "_xmpp-server._tcp.second.test", target: "old.second.test", port: 5999, priority: 10, weight: 0 },
            { type: "TXT", name: "_xmpp-server._tcp.second.test", value: "not ours, keep me" },
          ],
        },
      ],
    });
    const [nats, redis] = await Promise.all([startNats(scope, { netns, host: "127.0.0.1" }), startRedis(scope, { netns, host: "127.0.0.1" })]);
    config = (secretFile, httpPort) => ({
      domains: [{ xmpp: "gateway.test" }, { xmpp: "second.test" }],
      gateway: { edgeFqdn: EDGE, dialback: { secret: "e2e-dialback-secret-0123456789" } },
      edge: { listen: { host: GATEWAY_ADDRESS, port: 5269 } },
      nats: { url: nats.url },
      redis: { url: redis.url },
      dns: { server: `${DNS_ADDRESS}:53`, publish: { server: `${DNS_ADDRESS}:53`, tsig: { name: dns.tsig?.name ?? "", secretFile } } },
      sip: { proxy: { host: "127.0.0.4" } },
      services: { dnsRegistrar: { http: { host: "127.0.0.1", port: httpPort } } },
    });
  });

  after(() => scope.close());

  it("publishes what is missing, replaces what differs, leaves other records, and reports the drift", async () => {
    assert.ok(dns.tsig);
    assert.equal(await dns.dig("SRV", "_xmpp-server._tcp.gateway.test"), "");
    // The key file as tsig-keygen wrote it (`key "…" { algorithm …; secret "…"; };`).
    const gateway = await startGateway(scope, { config: config(dns.tsig.file, 9105), netns, replicas: { "dns-registrar": 1 }, env: { LOG_LEVEL: "debug" } });
    for (const domain of ["gateway.test", "second.test"]) {
      await waitForLine(gateway, (l) => l.msg === "published SRV records updated" && l.domain === domain);
    }
    assert.equal(await dns.dig("SRV", "_xmpp-server._tcp.gateway.test"), `0 5 5269 ${EDGE}.`);
    assert.equal(await dns.dig("SRV", "_xmpp-server._tcp.second.test"), `0 5 5269 ${EDGE}.`);
    assert.equal(await dns.dig("TXT", "_xmpp-server._tcp.second.test"), '"not ours, keep me"');
    assert.equal(await dns.dig("A", EDGE), GATEWAY_ADDRESS);

    const drift = logLines(gateway).filter((l) => l.msg === "published SRV records drifted");
    assert.deepEqual(drift.map((l) => [l.domain, l.drift]).sort(), [
      ["gateway.test", "missing"],
      ["second.test", "differs"],
    ]);
    const text = await metrics(netns, gateway.services[0]?.httpUrl ?? "");
    assert.equal(sample(text, "passerelle_dns_publish_drift_total", 'kind="missing"'), 1);
    assert.equal(sample(text, "passerelle_dns_publish_drift_total", 'kind="differs"'), 1);
    assert.equal(sample(text, "passerelle_dns_updates_total", 'outcome="ok"'), 2);
    assert.equal(sample(text, "passerelle_dns_published_in_sync", 'domain="second.test"'), 1);
    await gateway.stop();
  });

  it("an unsigned update is refused by bind9", async () => {
    const result = await dns.nsupdate("zone gateway.test\nupdate delete _xmpp-server._tcp.gateway.test SRV", false);
    assert.match(`${result.stdout}${result.stderr}`, /REFUSED/);
    assert.equal(await dns.dig("SRV", "_xmpp-server._tcp.gateway.test"), `0 5 5269 ${EDGE}.`);
  });

  it("a registrar with a wrong secret is refused (NOTAUTH/BADSIG) and says so; nothing changes", async () => {
    // Someone changed our record by hand (with the right key): drift the wrong-key registrar will try to fix.
    const changed = await dns.nsupdate("zone gateway.test\nupdate delete _xmpp-server._tcp.gateway.test SRV\nupdate add _xmpp-server._tcp.gateway.test 60 IN SRV 0 0 5999 elsewhere.gateway.test.");
    assert.equal(changed.code, 0, changed.stderr);
    assert.equal(await dns.dig("SRV", "_xmpp-server._tcp.gateway.test"), "0 0 5999 elsewhere.gateway.test.");

    const wrong = join(scope.dir("secrets"), "wrong.secret");
    writeFileSync(wrong, `${Buffer.alloc(32, 0x5a).toString("base64")}\n`, { mode: 0o600 });
    const gateway = await startGateway(scope, { config: config(wrong, 9106), netns, replicas: { "dns-registrar": 1 }, env: { LOG_LEVEL: "debug" } });
    const refused = await waitForLine(gateway, (l) => l.msg === "dynamic update refused" && l.domain === "gateway.test");
    assert.equal(refused.rcode, "NOTAUTH");
    assert.equal(refused.tsigError, "BADSIG");
    assert.equal(await dns.dig("SRV", "_xmpp-server._tcp.gateway.test"), "0 0 5999 elsewhere.gateway.test.");
    const text = await metrics(netns, gateway.services[0]?.httpUrl ?? "");
    assert.equal(sample(text, "passerelle_dns_updates_total", 'outcome="refused"'), 1);
    assert.equal(sample(text, "passerelle_dns_published_in_sync", 'domain="gateway.test"'), 0);
    await gateway.stop();
  });

  it("records follow the configuration file: they change, an invalid file changes nothing, and they disappear when a domain goes", async () => {
    assert.ok(dns.tsig);
    const first = config(dns.tsig.file, 9107);
    const since = linesOf(join(scope.workDir, "dns-registrar-0.log")).length;
    const gateway = await startGateway(scope, { config: first, netns, replicas: { "dns-registrar": 1 }, env: { LOG_LEVEL: "debug" } });
    for (const domain of ["gateway.test", "second.test"]) {
      await waitForLine(gateway, (l) => (l.msg === "published SRV records updated" || l.msg === "published SRV records in sync") && l.domain === domain && l.reason === "start", 15_000, since);
    }
    assert.equal(await dns.dig("SRV", "_xmpp-server._tcp.gateway.test"), `0 5 5269 ${EDGE}.`);

    // The admin moves the edge: new FQDN and port. (JSON is YAML; the registrar reads the file it started with.)
    const moved: RawConfig = { ...first, gateway: { ...first.gateway, edgeFqdn: "edge2.gateway.test" }, edge: { listen: { host: GATEWAY_ADDRESS, port: 5299 } } };
    writeFileSync(gateway.configFile, JSON.stringify(moved, null, 2));
    for (const domain of ["gateway.test", "second.test"]) {
      const line = await waitForLine(gateway, (l) => l.msg === "published SRV records updated" && l.domain === domain && l.reason === "configuration file changed", 15_000, since);
      assert.equal(line.transport, "udp");
    }
    assert.equal(await dns.dig("SRV", "_xmpp-server._tcp.gateway.test"), "0 5 5299 edge2.gateway.test.");
    assert.equal(await dns.dig("SRV", "_xmpp-server._tcp.second.test"), "0 5 5299 edge2.gateway.test.");

    // A broken file: reported, the previous configuration stays in force, DNS untouched.
    writeFileSync(gateway.configFile, JSON.stringify({ ...moved, domains: [{ xmpp: "not a domain!" }] }));
    const invalid = await waitForLine(gateway, (l) => l.msg === "configuration file is invalid; the previous configuration stays in force", 15_000, since);
    assert.match(String(invalid.problem), /domains/);
    assert.equal(await dns.dig("SRV", "_xmpp-server._tcp.second.test"), "0 5 5299 edge2.gateway.test.");

    // Someone else adds a record to second.test's RRset; then second.test stops being ours.
    const added = await dns.nsupdate("zone second.test\nupdate add _xmpp-server._tcp.second.test 60 IN SRV 10 0 5269 backup.second.test.");
    assert.equal(added.code, 0, added.stderr);
    writeFileSync(gateway.configFile, JSON.stringify({ ...moved, domains: [{ xmpp: "gateway.test" }] }, null, 2));
    const removed = await waitForLine(gateway, (l) => l.msg === "published SRV records removed" && l.domain === "second.test", 15_000, since);
    assert.deepEqual(removed.records, [{ priority: 0, weight: 5, port: 5299, target: "edge2.gateway.test" }]);
    assert.equal(await dns.dig("SRV", "_xmpp-server._tcp.second.test"), "10 0 5269 backup.second.test.", "only what we published is gone");
    assert.equal(await dns.dig("TXT", "_xmpp-server._tcp.second.test"), '"not ours, keep me"');
    assert.equal(await dns.dig("SRV", "_xmpp-server._tcp.gateway.test"), "0 5 5299 edge2.gateway.test.");

    // Someone edits our record by hand; a config.changed (settings) event makes the registrar look
    // again: the drift is reported and repaired.
    const edited = await dns.nsupdate("zone gateway.test\nupdate delete _xmpp-server._tcp.gateway.test SRV\nupdate add _xmpp-server._tcp.gateway.test 60 IN SRV 0 0 5999 rogue.gateway.test.");
    assert.equal(edited.code, 0, edited.stderr);
    await publishConfigChanged(netns, first.nats?.url ?? "", { v: 1, kind: "settings", key: "edgeFqdn" });
    const repaired = await waitForLine(gateway, (l) => l.msg === "published SRV records drifted" && l.domain === "gateway.test" && l.reason === "config.changed settings edgeFqdn", 15_000, since);
    assert.equal(repaired.drift, "differs");
    await waitForLine(gateway, (l) => l.msg === "published SRV records updated" && l.domain === "gateway.test" && l.reason === "config.changed settings edgeFqdn", 15_000, since);
    assert.equal(await dns.dig("SRV", "_xmpp-server._tcp.gateway.test"), "0 5 5299 edge2.gateway.test.");

    const text = await metrics(netns, gateway.services[0]?.httpUrl ?? "");
    assert.equal(sample(text, "passerelle_dns_config_reloads_total", 'outcome="applied"'), 2);
    assert.equal(sample(text, "passerelle_dns_config_reloads_total", 'outcome="invalid"'), 1);
    assert.equal(sample(text, "passerelle_dns_published_removed_total", 'outcome="ok"'), 1);
    assert.equal(sample(text, "passerelle_dns_published_in_sync", 'domain="second.test"'), undefined, "a domain that went has no in-sync gauge");
    await gateway.stop();
  });

  it("a record edited by hand is found and repaired by the periodic check, with no event or file change", async () => {
    assert.ok(dns.tsig);
    const base = config(dns.tsig.file, 9108);
    const checked: RawConfig = { ...base, dns: { ...base.dns, publish: { ...base.dns?.publish, server: `${DNS_ADDRESS}:53`, tsig: { name: dns.tsig.name, secretFile: dns.tsig.file }, checkInterval: 5 } } };
    const since = linesOf(join(scope.workDir, "dns-registrar-0.log")).length;
    const gateway = await startGateway(scope, { config: checked, netns, replicas: { "dns-registrar": 1 }, env: { LOG_LEVEL: "debug" } });
    await waitForLine(gateway, (l) => (l.msg === "published SRV records updated" || l.msg === "published SRV records in sync") && l.domain === "gateway.test" && l.reason === "start", 15_000, since);
    assert.equal(await dns.dig("SRV", "_xmpp-server._tcp.gateway.test"), `0 5 5269 ${EDGE}.`);
    const edited = await dns.nsupdate("zone gateway.test\nupdate delete _xmpp-server._tcp.gateway.test SRV\nupdate add _xmpp-server._tcp.gateway.test 60 IN SRV 0 0 5999 rogue.gateway.test.");
    assert.equal(edited.code, 0, edited.stderr);
    const drifted = await waitForLine(gateway, (l) => l.msg === "published SRV records drifted" && l.domain === "gateway.test" && l.reason === "periodic check", 15_000, since);
    assert.equal(drifted.drift, "differs");
    await waitForLine(gateway, (l) => l.msg === "published SRV records updated" && l.domain === "gateway.test" && l.reason === "periodic check", 15_000, since);
    assert.equal(await dns.dig("SRV", "_xmpp-server._tcp.gateway.test"), `0 5 5269 ${EDGE}.`);
    await gateway.stop();
  });
});
