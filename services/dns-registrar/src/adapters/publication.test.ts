import assert from "node:assert/strict";
import { test } from "node:test";
import { Registry, createLogger } from "@passerelle/telemetry";
import type { DesiredRrset } from "../domain/publish-plan.ts";
import type { SrvData } from "../protocol/update.ts";
import type { UpdateOutcome } from "./dns-update-client.ts";
import { Publication, type PublicationSettings } from "./publication.ts";
import type { PublishedRrset } from "./published-store.ts";
import type { ReconcileResult } from "./publisher.ts";

const log = createLogger("test", "silent");
const settings = (domains: string[], port = 5269): PublicationSettings => ({ domains, edgeFqdn: "edge.contoso.com", port, ttl: 300, priority: 0, weight: 5 });

/** A zone that holds what was last published, and a store, both in memory. */
function fakes(options: { removal?: UpdateOutcome } = {}) {
  const zone = new Map<string, SrvData[]>();
  const stored = new Map<string, PublishedRrset>();
  const calls: string[] = [];
  let release: (() => void) | undefined;
  let hold = false;
  const publisher = {
    async reconcile(rrsets: readonly DesiredRrset[]): Promise<ReconcileResult[]> {
      calls.push(`reconcile ${rrsets.map((r) => r.domain).join(",")}`);
      if (hold) await new Promise<void>((r) => (release = r));
      return rrsets.map((r) => {
        const found = zone.get(r.name) ?? [];
        zone.set(r.name, [...r.records]);
        const same = JSON.stringify(found) === JSON.stringify(r.records);
        return { domain: r.domain, name: r.name, zone: r.domain, drift: same ? "in-sync" : found.length === 0 ? "missing" : "differs", found, update: same ? undefined : { ok: true, transport: "udp" } };
      });
    },
    async remove(_zone: string, name: string, records: readonly SrvData[]): Promise<UpdateOutcome> {
      calls.push(`remove ${name} ${records.length}`);
      const outcome = options.removal ?? { ok: true, transport: "udp" };
      if (outcome.ok) zone.delete(name);
      return outcome;
    },
  };
  const store = {
    async all() {
      return { entries: [...stored.values()], malformed: [] };
    },
    async remember(r: PublishedRrset) {
      stored.set(r.name, r);
    },
    async forget(name: string) {
      stored.delete(name);
    },
  };
  return { zone, stored, calls, publisher, store, holdNext: () => (hold = true), release: () => ((hold = false), release?.()) };
}

test("publishes, then removes exactly what it published when a domain goes", async () => {
  const f = fakes();
  const p = new Publication({ publisher: f.publisher, store: f.store, settings: settings(["contoso.com", "fabrikam.com"]), log, metrics: new Registry(), server: "x", keyName: "k" });
  await p.trigger("start");
  assert.deepEqual([...f.stored.keys()].sort(), ["_xmpp-server._tcp.contoso.com", "_xmpp-server._tcp.fabrikam.com"]);
  await p.apply(settings(["contoso.com"]), "configuration file changed");
  assert.deepEqual(f.calls, ["reconcile contoso.com,fabrikam.com", "reconcile contoso.com", "remove _xmpp-server._tcp.fabrikam.com 1"]);
  assert.deepEqual([...f.stored.keys()], ["_xmpp-server._tcp.contoso.com"]);
  assert.equal(f.zone.has("_xmpp-server._tcp.fabrikam.com"), false);
});

test("the same settings again change nothing; triggers during a run are folded into one more run", async () => {
  const f = fakes();
  const p = new Publication({ publisher: f.publisher, store: f.store, settings: settings(["contoso.com"]), log, metrics: new Registry(), server: "x", keyName: "k" });
  await p.trigger("start");
  await p.apply(settings(["contoso.com"]), "unchanged file");
  assert.equal(f.calls.length, 1);

  f.holdNext();
  const first = p.trigger("one");
  await new Promise((r) => setImmediate(r));
  void p.trigger("two");
  void p.trigger("three");
  void p.apply(settings(["contoso.com"], 5270), "port changed");
  f.release();
  await first;
  assert.deepEqual(f.calls, ["reconcile contoso.com", "reconcile contoso.com", "reconcile contoso.com"], "one run, then one more for all that came meanwhile");
  assert.equal(f.zone.get("_xmpp-server._tcp.contoso.com")?.[0]?.port, 5270);
});

test("a refused removal keeps the record in the store, to be tried again at the next reconciliation", async () => {
  const f = fakes({ removal: { ok: false, rcode: "NOTAUTH", tsigError: "BADSIG", reason: "signature" } });
  const registry = new Registry();
  const p = new Publication({ publisher: f.publisher, store: f.store, settings: settings(["contoso.com", "fabrikam.com"]), log, metrics: registry, server: "x", keyName: "k" });
  await p.trigger("start");
  await p.apply(settings(["contoso.com"]), "domain removed");
  await p.trigger("again");
  assert.deepEqual(
    f.calls.filter((c) => c.startsWith("remove")),
    ["remove _xmpp-server._tcp.fabrikam.com 1", "remove _xmpp-server._tcp.fabrikam.com 1"],
  );
  assert.ok(f.stored.has("_xmpp-server._tcp.fabrikam.com"));
  const metrics = await registry.metrics();
  assert.match(metrics, /passerelle_dns_published_removed_total\{outcome="refused"\} 2/);
});

test("edge.directTls set: _xmpps-server published beside _xmpp-server; unset: exactly it removed, the domain's own record stays", async () => {
  const f = fakes();
  const withDirect = { ...settings(["contoso.com"]), directTlsPort: 5270 };
  const p = new Publication({ publisher: f.publisher, store: f.store, settings: withDirect, log, metrics: new Registry(), server: "x", keyName: "k" });
  await p.trigger("start");
  assert.deepEqual([...f.stored.keys()].sort(), ["_xmpp-server._tcp.contoso.com", "_xmpps-server._tcp.contoso.com"]);
  assert.deepEqual(f.zone.get("_xmpps-server._tcp.contoso.com"), [{ priority: 0, weight: 5, port: 5270, target: "edge.contoso.com" }]);
  await p.apply(settings(["contoso.com"]), "configuration file changed");
  assert.deepEqual(f.calls.slice(-1), ["remove _xmpps-server._tcp.contoso.com 1"]);
  assert.deepEqual([...f.stored.keys()], ["_xmpp-server._tcp.contoso.com"]);
  assert.equal(f.zone.has("_xmpps-server._tcp.contoso.com"), false);
  assert.equal(f.zone.has("_xmpp-server._tcp.contoso.com"), true);
});
