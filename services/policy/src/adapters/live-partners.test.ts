// LivePartners (packages/runtime) as another service uses it, against policy's snapshot responder,
// over a real NATS and Redis: the file's partners until policy answers, then the store's, and each
// change applied on config.changed.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Redis } from "ioredis";
import { validateConfig, type PartnerDirectory } from "@passerelle/config";
import { subjects, type ConfigChanged } from "@passerelle/contracts";
import { Bus, LivePartners } from "@passerelle/runtime";
import { createLogger, createMetricsRegistry } from "@passerelle/telemetry";
import { createScope, startNats, startRedis } from "@passerelle/testkit";
import { PartnerAdmin } from "./partner-admin.ts";
import { servePartnerSnapshots } from "./partner-snapshots.ts";
import { PartnerStore } from "./partner-store.ts";

const scope = createScope("policy-live-partners");
const log = createLogger("live-partners-test", process.env.TEST_LOG_LEVEL ?? "silent");
let nc: NatsConnection;
let redis: Redis;
let bus: Bus;

const config = validateConfig({
  domains: [{ xmpp: "contoso.test" }],
  gateway: { edgeFqdn: "xmpp.contoso.test", dialback: { secret: "0123456789abcdef0123" } },
  sip: { proxy: { host: "127.0.0.1" } },
  partners: [{ domain: "fabrikam.test", type: "federated" }],
});

async function until(what: string, condition: () => boolean): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (condition()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting until ${what}`);
}

before(async () => {
  const [natsServer, redisServer] = await Promise.all([startNats(scope), startRedis(scope)]);
  nc = await connect({ servers: natsServer.url });
  redis = new Redis(redisServer.url);
  bus = new Bus({ nats: nc, log, metrics: createMetricsRegistry("live-partners-test") });
});
after(async () => {
  await nc?.drain();
  await redis?.quit();
  await scope.close();
});

describe("LivePartners", () => {
  it("uses the file's partners until policy answers, then the store's, and applies each change", async () => {
    const metrics = createMetricsRegistry("live-partners-test");
    const live = new LivePartners({ bus, config, log, startWaitMs: 300, metrics });
    const changes: { revision: number; previous: PartnerDirectory }[] = [];
    live.onChange((_next, previous, revision) => changes.push({ revision, previous }));
    await live.start();
    // Nobody answers yet: the configuration file's entry.
    assert.equal(live.revision, -1);
    assert.equal(live.current().find("fabrikam.test")?.type, "federated");

    // Policy starts: seeds the store (with an admin change already made) and answers snapshots.
    const store = new PartnerStore(redis, { xmppAccessDefault: true });
    await store.seed(config.partners, { xmppAccessDefault: true }, "test");
    const admin = new PartnerAdmin({
      store,
      redis,
      localDomains: new Set(["contoso.test"]),
      log,
      changed: (kind, key, revision) => bus.publish<ConfigChanged>(subjects.configChanged, { v: 1, kind, key, revision }),
    });
    const responder = servePartnerSnapshots(bus, store);
    try {
      await until("the first snapshot is applied (periodic retry)", () => live.revision === 1);
      assert.equal(changes.length, 1);

      await admin.update("admin", "fabrikam.test", { type: "public-unverified", additionalDomains: ["chat.fabrikam.test"] });
      await until("the update is applied", () => live.revision === 2);
      assert.equal(live.current().find("chat.fabrikam.test")?.type, "public-unverified");
      assert.equal(changes[1]?.previous.find("chat.fabrikam.test"), undefined);

      await admin.updateSettings("admin", { xmppAccessDefault: false });
      await until("the settings change is applied", () => live.revision === 3);
      assert.equal(live.settings().xmppAccessDefault, false);

      await admin.remove("admin", "fabrikam.test");
      await until("the removal is applied", () => live.revision === 4);
      assert.equal(live.current().find("fabrikam.test"), undefined);
      assert.equal(changes.length, 4);

      const exposition = await metrics.metrics();
      assert.match(exposition, /passerelle_partner_store_revision\{[^}]*\} 4/);
      assert.match(exposition, /passerelle_partner_reloads_total\{[^}]*outcome="applied"[^}]*\} 4/);
      // A stale or repeated snapshot changes nothing.
      live.apply({ revision: 2, partners: [], settings: { xmppAccessDefault: true } });
      assert.equal(live.revision, 4);
      assert.equal(live.settings().xmppAccessDefault, false);
    } finally {
      live.stop();
      await responder.drain();
    }
  });

  it("ignores a stored entry that no longer validates, keeping the others", () => {
    const live = new LivePartners({ bus, config, log });
    live.apply({
      revision: 7,
      partners: [
        { domain: "ok.test", type: "federated" },
        { domain: "bad.test", type: "federated", tls: "not-supported", dialback: false },
        { domain: "worse.test", type: "nope" },
      ],
      settings: { xmppAccessDefault: true },
    });
    assert.deepEqual(
      live.current().all().map((p) => p.domain),
      ["ok.test"],
    );
  });
});
