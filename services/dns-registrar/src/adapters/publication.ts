/**
 * Our SRV records, kept as the configuration says: reconciled at start, again whenever the local
 * domains (or the edge FQDN, port, TTL, priority, weight) change in the configuration file or a
 * `config.changed` event arrives; what we published for a domain that went is removed. Every
 * reconciliation reports drift (log + metric) as at start. One reconciliation runs at a time;
 * triggers that arrive meanwhile are folded into one more run.
 */
import { readFileSync } from "node:fs";
import type { GatewayConfig } from "@passerelle/config";
import { subjects, type ConfigChanged } from "@passerelle/contracts";
import type { ServiceContext } from "@passerelle/runtime";
import { Counter, Gauge, type Logger } from "@passerelle/telemetry";
import { desiredRrsets, parseSecretFile, type PublishSettings } from "../domain/publish-plan.ts";
import { parsePublishServer } from "../environment.ts";
import { ConfigFileWatcher } from "./config-file-watcher.ts";
import { PublishedStore } from "./published-store.ts";
import { Publisher } from "./publisher.ts";

export interface PublicationSettings extends PublishSettings {
  readonly domains: readonly string[];
}

/** What the configuration asks us to publish; undefined when `dns.publish` is not set. */
export function publicationSettingsOf(config: GatewayConfig): PublicationSettings | undefined {
  const publish = config.dns.publish;
  if (publish === undefined) return undefined;
  return {
    domains: config.domains.map((d) => d.xmpp.toLowerCase()),
    edgeFqdn: config.gateway.edgeFqdn,
    port: config.edge.listen.port,
    ...(config.edge.directTls === undefined ? {} : { directTlsPort: config.edge.directTls.port }),
    ttl: publish.ttl,
    priority: publish.priority,
    weight: publish.weight,
  };
}

const sameSettings = (a: PublicationSettings, b: PublicationSettings): boolean => JSON.stringify(a) === JSON.stringify(b);

export interface PublicationOptions {
  readonly publisher: Pick<Publisher, "reconcile" | "remove">;
  readonly store: Pick<PublishedStore, "all" | "remember" | "forget">;
  readonly settings: PublicationSettings;
  readonly log: Logger;
  readonly metrics: ServiceContext["metrics"];
  /** For log lines: the server and key name. */
  readonly server: string;
  readonly keyName: string;
}

export class Publication {
  private settings: PublicationSettings;
  private running: Promise<void> | undefined;
  private pending: string | undefined;
  private readonly drift: Counter<"kind">;
  private readonly updates: Counter<"outcome">;
  private readonly inSync: Gauge<"domain">;
  private readonly removed: Counter<"outcome">;

  constructor(private readonly o: PublicationOptions) {
    this.settings = o.settings;
    this.drift = new Counter({
      name: "passerelle_dns_publish_drift_total",
      help: "Published SRV RRsets found missing or different from what we publish, at reconciliation",
      labelNames: ["kind"],
      registers: [o.metrics],
    });
    this.updates = new Counter({
      name: "passerelle_dns_updates_total",
      help: "RFC 2136 updates sent, by outcome (ok, refused, error)",
      labelNames: ["outcome"],
      registers: [o.metrics],
    });
    this.inSync = new Gauge({
      name: "passerelle_dns_published_in_sync",
      help: "1 when the domain's published SRV records match what we publish, after the last reconciliation",
      labelNames: ["domain"],
      registers: [o.metrics],
    });
    this.removed = new Counter({
      name: "passerelle_dns_published_removed_total",
      help: "SRV RRsets we had published, removed because their domain is no longer ours, by outcome (ok, refused, error)",
      labelNames: ["outcome"],
      registers: [o.metrics],
    });
  }

  /** New settings from the configuration: reconciles when they differ from the ones in force. */
  apply(settings: PublicationSettings, reason: string): Promise<void> {
    if (sameSettings(settings, this.settings)) return Promise.resolve();
    this.o.log.info({ reason, domains: settings.domains, edgeFqdn: settings.edgeFqdn, port: settings.port }, "publication settings changed");
    this.settings = settings;
    return this.trigger(reason);
  }

  /** Runs a reconciliation now, or once more after the one running. Never rejects. */
  trigger(reason: string): Promise<void> {
    if (this.running !== undefined) {
      this.pending = reason;
      return this.running;
    }
    this.running = (async () => {
      let next: string | undefined = reason;
      // Bounded: each pass folds every trigger that came in during the previous one.
      for (let pass = 0; next !== undefined && pass < 100; pass++) {
        this.pending = undefined;
        await this.reconcile(next).catch((err: unknown) => this.o.log.error({ err, reason: next }, "could not reconcile published SRV records"));
        next = this.pending;
      }
      this.running = undefined;
    })();
    return this.running;
  }

  private async reconcile(reason: string): Promise<void> {
    const { log, publisher, store } = this.o;
    const settings = this.settings;
    const rrsets = desiredRrsets(settings.domains, settings);
    log.debug({ reason, domains: settings.domains }, "reconciling published SRV records");
    const results = await publisher.reconcile(rrsets);
    for (const r of results) {
      const base = { domain: r.domain, name: r.name, zone: r.zone, server: this.o.server, reason };
      if (r.error !== undefined) {
        this.updates.inc({ outcome: "error" });
        this.inSync.set({ domain: r.domain }, 0);
        log.error({ ...base, error: r.error }, "could not reconcile published SRV records");
        continue;
      }
      const wanted = rrsets.find((x) => x.name === r.name)?.records ?? [];
      if (r.drift !== "in-sync") {
        this.drift.inc({ kind: r.drift });
        log.warn({ ...base, drift: r.drift, found: r.found, wanted }, "published SRV records drifted");
      }
      if (r.update !== undefined && !r.update.ok) {
        this.updates.inc({ outcome: "refused" });
        this.inSync.set({ domain: r.domain }, 0);
        log.error({ ...base, rcode: r.update.rcode, tsigError: r.update.tsigError, reason: r.update.reason, key: this.o.keyName }, "dynamic update refused");
        continue;
      }
      if (r.update === undefined) {
        log.info(base, "published SRV records in sync");
      } else {
        this.updates.inc({ outcome: "ok" });
        log.info({ ...base, transport: r.update.transport }, "published SRV records updated");
      }
      this.inSync.set({ domain: r.domain }, 1);
      // From now on these records are ours to remove when the domain goes.
      if (r.zone !== undefined) await store.remember({ domain: r.domain, name: r.name, zone: r.zone, records: wanted });
    }

    const wantedNames = new Set(rrsets.map((r) => r.name));
    const { entries, malformed } = await store.all();
    if (malformed.length > 0) log.warn({ names: malformed.slice(0, 10), count: malformed.length }, "ignored malformed entries in the published-records store");
    for (const entry of entries) {
      if (wantedNames.has(entry.name)) continue;
      const base = { domain: entry.domain, name: entry.name, zone: entry.zone, server: this.o.server, reason };
      try {
        const outcome = await publisher.remove(entry.zone, entry.name, entry.records);
        if (!outcome.ok) {
          this.removed.inc({ outcome: "refused" });
          this.updates.inc({ outcome: "refused" });
          log.error({ ...base, rcode: outcome.rcode, tsigError: outcome.tsigError, reason: outcome.reason, key: this.o.keyName }, "dynamic update refused");
          continue;
        }
        this.removed.inc({ outcome: "ok" });
        this.updates.inc({ outcome: "ok" });
        // A domain still ours (only its `_xmpps-server` record went) keeps its gauge.
        if (!settings.domains.includes(entry.domain)) this.inSync.remove({ domain: entry.domain });
        await store.forget(entry.name);
        log.info({ ...base, records: entry.records }, "published SRV records removed");
      } catch (err) {
        this.removed.inc({ outcome: "error" });
        this.updates.inc({ outcome: "error" });
        log.error({ ...base, error: (err as Error).message }, "could not remove published SRV records");
      }
    }
  }
}

/** Reads the key, reconciles at start (in the background) and then on every change. */
export function startPublishing(ctx: ServiceContext): void {
  const { config, log } = ctx;
  const publish = config.dns.publish;
  const settings = publicationSettingsOf(config);
  if (publish === undefined || settings === undefined) return;
  // Read at start so a missing or malformed file stops the service with the reason.
  let secret: Buffer;
  try {
    secret = parseSecretFile(readFileSync(publish.tsig.secretFile, "utf8"));
  } catch (err) {
    throw new Error(`dns.publish.tsig.secretFile ${publish.tsig.secretFile}: ${(err as Error).message}`, { cause: err });
  }
  const { host, port } = parsePublishServer(publish.server);
  const publisher = new Publisher({ target: { host, port, key: { name: publish.tsig.name, secret } }, zones: publish.zones, ttl: publish.ttl });
  const publication = new Publication({ publisher, store: new PublishedStore(ctx.redis), settings, log, metrics: ctx.metrics, server: publish.server, keyName: publish.tsig.name });
  void publication.trigger("start");
  // Records edited or lost on the server in between are found by a periodic look, not only at changes.
  const periodic = setInterval(() => void publication.trigger("periodic check"), publish.checkInterval * 1000);
  periodic.unref();
  ctx.onShutdown(() => clearInterval(periodic));

  const reloads = new Counter({
    name: "passerelle_dns_config_reloads_total",
    help: "Configuration file changes seen by the dns-registrar, by outcome (applied, invalid)",
    labelNames: ["outcome"],
    registers: [ctx.metrics],
  });
  const fromFile = (next: GatewayConfig, reason: string): void => {
    const nextSettings = publicationSettingsOf(next);
    if (nextSettings === undefined || next.dns.publish?.server !== publish.server || next.dns.publish.tsig.name !== publish.tsig.name || next.dns.publish.tsig.secretFile !== publish.tsig.secretFile) {
      log.warn({ reason }, "dns.publish's server or key changed in the configuration file: restart the dns-registrar to apply it; domains are still reconciled with the current server and key");
    }
    if (nextSettings !== undefined) void publication.apply({ ...nextSettings }, reason);
  };
  if (config.source !== "inline") {
    const watcher = new ConfigFileWatcher({
      path: config.source,
      onChange: (next) => {
        reloads.inc({ outcome: "applied" });
        log.info({ file: config.source }, "configuration file changed");
        fromFile(next, "configuration file changed");
      },
      onInvalid: (problem) => {
        reloads.inc({ outcome: "invalid" });
        log.error({ file: config.source, problem }, "configuration file is invalid; the previous configuration stays in force");
      },
    });
    watcher.start();
    ctx.onShutdown(() => watcher.stop());
  }
  // Gateway-wide settings changed elsewhere (e.g. through the admin API): check our records again.
  ctx.bus.subscribe<ConfigChanged>(subjects.configChanged, undefined, ["kind", "key"], (change) => {
    if (change.kind === "settings") void publication.trigger(`config.changed ${change.kind} ${change.key}`);
  });
}
