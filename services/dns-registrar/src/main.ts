/** dns-registrar: where partners' XMPP servers live (SRV, XEP-0368, proxy override), answered over NATS. */
import { PartnerDirectory } from "@passerelle/config";
import { queues, subjects, type ConfigChanged, type ResolveReply, type ResolveRequest } from "@passerelle/contracts";
import { runService, type ServiceContext } from "@passerelle/runtime";
import { Counter, Gauge, Histogram } from "@passerelle/telemetry";
import { XmppServerResolver, createDnsClient } from "./adapters/xmpp-server-resolver.ts";
import { readFileSync } from "node:fs";
import { Publisher } from "./adapters/publisher.ts";
import { desiredRrsets, parseSecretFile } from "./domain/publish-plan.ts";
import { parseDnsServer, parsePublishServer } from "./environment.ts";

/** Our SRV records: reconciled once at start (in the background: resolution does not wait for it). */
function startPublishing(ctx: ServiceContext): void {
  const { config, log } = ctx;
  const publish = config.dns.publish;
  if (publish === undefined) return;
  // Read at start so a missing or malformed file stops the service with the reason.
  let secret: Buffer;
  try {
    secret = parseSecretFile(readFileSync(publish.tsig.secretFile, "utf8"));
  } catch (err) {
    throw new Error(`dns.publish.tsig.secretFile ${publish.tsig.secretFile}: ${(err as Error).message}`, { cause: err });
  }
  const { host, port } = parsePublishServer(publish.server);
  const drift = new Counter({
    name: "passerelle_dns_publish_drift_total",
    help: "Published SRV RRsets found missing or different from what we publish, at reconciliation",
    labelNames: ["kind"],
    registers: [ctx.metrics],
  });
  const updates = new Counter({
    name: "passerelle_dns_updates_total",
    help: "RFC 2136 updates sent, by outcome (ok, refused, error)",
    labelNames: ["outcome"],
    registers: [ctx.metrics],
  });
  const inSync = new Gauge({
    name: "passerelle_dns_published_in_sync",
    help: "1 when the domain's published SRV records match what we publish, after the last reconciliation",
    labelNames: ["domain"],
    registers: [ctx.metrics],
  });
  const publisher = new Publisher({ target: { host, port, key: { name: publish.tsig.name, secret } }, zones: publish.zones, ttl: publish.ttl });
  const rrsets = desiredRrsets(
    config.domains.map((d) => d.xmpp),
    { edgeFqdn: config.gateway.edgeFqdn, port: config.edge.listen.port, ttl: publish.ttl, priority: publish.priority, weight: publish.weight },
  );
  void publisher.reconcile(rrsets).then((results) => {
    for (const r of results) {
      const base = { domain: r.domain, name: r.name, zone: r.zone, server: publish.server };
      if (r.error !== undefined) {
        updates.inc({ outcome: "error" });
        inSync.set({ domain: r.domain }, 0);
        log.error({ ...base, error: r.error }, "could not reconcile published SRV records");
        continue;
      }
      if (r.drift !== "in-sync") {
        drift.inc({ kind: r.drift });
        log.warn({ ...base, drift: r.drift, found: r.found, wanted: rrsets.find((x) => x.name === r.name)?.records }, "published SRV records drifted");
      }
      if (r.update === undefined) {
        inSync.set({ domain: r.domain }, 1);
        log.info(base, "published SRV records in sync");
      } else if (r.update.ok) {
        updates.inc({ outcome: "ok" });
        inSync.set({ domain: r.domain }, 1);
        log.info({ ...base, transport: r.update.transport }, "published SRV records updated");
      } else {
        updates.inc({ outcome: "refused" });
        inSync.set({ domain: r.domain }, 0);
        log.error({ ...base, rcode: r.update.rcode, tsigError: r.update.tsigError, reason: r.update.reason, key: publish.tsig.name }, "dynamic update refused");
      }
    }
  });
}

await runService({
  name: "dns-registrar",
  async start(ctx) {
    const { config, log } = ctx;
    const server = parseDnsServer(config.dns.server);
    const directory = new PartnerDirectory(config.partners);
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
        const partner = directory.find(domain);
        return partner?.proxyFqdn === undefined ? undefined : { host: partner.proxyFqdn, port: partner.proxyPort };
      },
      onRejected: (domain, reasons) => {
        rejected.inc(reasons.length);
        log.warn({ domain, reasons: reasons.slice(0, 10) }, "dropped unsound DNS records");
      },
    });

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
