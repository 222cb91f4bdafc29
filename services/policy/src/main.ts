/** policy: partners and what each partner type may do; the allow-lists; the admin API. */
import { PartnerDirectory } from "@passerelle/config";
import { queues, subjects, type ConfigChanged } from "@passerelle/contracts";
import { ensureInboundStream, ensurePolicyConsumer, runService } from "@passerelle/runtime";
import { InboundConsumer } from "./adapters/inbound-consumer.ts";
import { InboundHandler } from "./adapters/inbound-handler.ts";
import { registerAdminRoutes } from "./adapters/admin-routes.ts";
import { OutboundAuthorizer } from "./adapters/outbound-authorizer.ts";
import { UserStore } from "./adapters/user-store.ts";
import { readAdminToken } from "./environment.ts";

await runService({
  name: "policy",
  routes(app, { config, log, ready }) {
    registerAdminRoutes(app, {
      token: readAdminToken(process.env),
      localDomains: new Set(config.domains.map((d) => d.xmpp)),
      log,
      ready: ready.then((ctx) => ({
        store: new UserStore(ctx.redis, ctx.config.gateway.xmppAccessDefault),
        changed: (kind: "allowlist" | "user", key: string) => ctx.bus.publish<ConfigChanged>(subjects.configChanged, { v: 1, kind, key }),
      })),
    });
  },
  async start(ctx) {
    const { config } = ctx;
    const directory = new PartnerDirectory(config.partners);
    const store = new UserStore(ctx.redis, config.gateway.xmppAccessDefault);
    const sipTimeoutMs = (config.sip.requestTimeout + 3) * 1000;

    const jsm = await ensureInboundStream(ctx.nats);
    // Redelivery only after the translator had its full time to answer.
    await ensurePolicyConsumer(jsm, sipTimeoutMs + 5000);
    const handler = new InboundHandler({
      bus: ctx.bus,
      store,
      partners: () => directory,
      sipDomains: new Map(config.domains.map((d) => [d.xmpp, d.sip])),
      sipTimeoutMs,
      log: ctx.log,
      metrics: ctx.metrics,
    });
    const authorizer = new OutboundAuthorizer({
      bus: ctx.bus,
      store,
      partners: () => directory,
      localDomains: new Set(config.domains.map((d) => d.xmpp)),
      log: ctx.log,
      metrics: ctx.metrics,
    });
    const authorizations = authorizer.serve();
    ctx.onShutdown(() => authorizations.drain());
    const consumer = new InboundConsumer(ctx.nats, handler, ctx.log);
    await consumer.start();
    ctx.onShutdown(() => consumer.stop());
    ctx.log.info({ partners: config.partners.length, queue: queues.policy }, "policy ready");
  },
});
