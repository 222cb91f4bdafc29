/** dns-registrar: where partners' XMPP servers live (SRV, XEP-0368, proxy override), answered over NATS. */
import { queues, subjects, type ConfigChanged, type ResolveReply, type ResolveRequest } from "@passerelle/contracts";
import { LivePartners, runService } from "@passerelle/runtime";
import { Counter, Histogram } from "@passerelle/telemetry";
import { XmppServerResolver, createDnsClient } from "./adapters/xmpp-server-resolver.ts";
import { startPublishing } from "./adapters/publication.ts";
import { parseDnsServer } from "./environment.ts";

await runService({
  name: "dns-registrar",
  async start(ctx) {
    const { config, log } = ctx;
    const server = parseDnsServer(config.dns.server);
    // The partner store's entries, live; a changed entry (e.g. its proxy FQDN) drops its cached resolution.
    const partners = new LivePartners({ bus: ctx.bus, config, log, metrics: ctx.metrics });
    partners.onChange((next, previous) => {
      for (const p of [...previous.all(), ...next.all()]) {
        for (const d of [p.domain, ...p.additionalDomains]) if (JSON.stringify(previous.find(d)) !== JSON.stringify(next.find(d))) resolver.invalidate(d);
      }
    });
    const rejected = new Counter({
      name: "passerelle_dns_rejected_records_total",
      help: "DNS records dropped as unsound (bad target name, port, too many)",
      registers: [ctx.metrics],
    });
    const resolutions = new Counter({
      name: "passerelle_dns_resolutions_total",
      help: "s2s resolutions by outcome (cache, proxy, srv, fallback, none, error)",
      labelNames: ["outcome"],
      registers: [ctx.metrics],
    });
    const duration = new Histogram({
      name: "passerelle_dns_resolution_seconds",
      help: "Time to answer a resolution request",
      buckets: [0.0005, 0.002, 0.01, 0.05, 0.2, 1, 3, 10],
      registers: [ctx.metrics],
    });
    const resolver = new XmppServerResolver({
      dns: createDnsClient(server),
      proxyFor: (domain) => {
        const partner = partners.current().find(domain);
        return partner?.proxyFqdn === undefined ? undefined : { host: partner.proxyFqdn, port: partner.proxyPort };
      },
      onRejected: (domain, reasons) => {
        rejected.inc(reasons.length);
        log.warn({ domain, reasons: reasons.slice(0, 10) }, "dropped unsound DNS records");
      },
    });

    await partners.start();
    ctx.onShutdown(() => partners.stop());

    ctx.bus.reply<ResolveRequest, ResolveReply>(subjects.dnsResolve, queues.dnsRegistrar, ["domain"], async (request) => {
      const stop = duration.startTimer();
      try {
        const { reply, outcome } = await resolver.resolve(request.domain);
        resolutions.inc({ outcome });
        if (outcome === "error") log.warn({ domain: request.domain, error: reply.error }, "resolution failed");
        return reply;
      } catch (err) {
        resolutions.inc({ outcome: "error" });
        log.error({ err, domain: request.domain }, "resolution crashed");
        return { v: 1, targets: [], error: "internal error while resolving" };
      } finally {
        stop();
      }
    });
    // A partner entry changed (e.g. its proxy FQDN): forget what we cached for it.
    ctx.bus.subscribe<ConfigChanged>(subjects.configChanged, undefined, ["kind", "key"], (change) => {
      if (change.kind === "partner") resolver.invalidate(change.key);
    });
    if (config.dns.publish !== undefined) startPublishing(ctx);
    log.info({ dnsServer: server ?? "system", queue: queues.dnsRegistrar }, "dns-registrar ready");
  },
});
