/**
 * The partner directory every service uses, kept live: the policy service owns the partner store
 * (Redis) and publishes `passerelle.v1.config.changed` on each change; each replica then reloads
 * the whole snapshot (`passerelle.v1.partners.snapshot`, answered by policy) and swaps its
 * directory. Until policy first answers, the configuration file's partners are used. A periodic
 * reload catches a change notice lost while NATS was reconnecting.
 */
import type { Subscription } from "@nats-io/transport-node";
import { PartnerDirectory, partnersFromEntries, type GatewayConfig, type LiveSettings } from "@passerelle/config";
import { subjects, type ConfigChanged, type PartnersSnapshotReply, type PartnersSnapshotRequest } from "@passerelle/contracts";
import { Counter, Gauge, type Logger, type Registry } from "@passerelle/telemetry";
import type { Bus } from "./bus.ts";

export interface PartnersSnapshot {
  revision: number;
  partners: readonly unknown[];
  settings: LiveSettings;
}

export interface LivePartnersOptions {
  bus: Bus;
  config: GatewayConfig;
  log: Logger;
  /** How the snapshot is read; default: ask policy over NATS. Policy itself reads its store. */
  fetch?: () => Promise<PartnersSnapshot>;
  /** Safety-net reload period (ms); default 30 s. */
  refreshIntervalMs?: number;
  /** Wait for a first snapshot at start at most this long (ms) before using the file's partners; default 3 s. */
  startWaitMs?: number;
  /** Where to count reloads and show the revision in use. */
  metrics?: Registry;
}

export type PartnersChangeListener = (next: PartnerDirectory, previous: PartnerDirectory, revision: number) => void;

export class LivePartners {
  private directory: PartnerDirectory;
  private liveSettings: LiveSettings;
  private rev = -1;
  private readonly listeners: PartnersChangeListener[] = [];
  private subscription: Subscription | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private readonly revisionGauge: Gauge | undefined;
  private readonly reloads: Counter<"outcome"> | undefined;

  constructor(private readonly o: LivePartnersOptions) {
    if (o.metrics !== undefined) {
      this.revisionGauge = new Gauge({ name: "passerelle_partner_store_revision", help: "Revision of the partner store this replica applies (-1: the configuration file's partners)", registers: [o.metrics] });
      this.revisionGauge.set(-1);
      this.reloads = new Counter({ name: "passerelle_partner_reloads_total", help: "Partner snapshot reloads by outcome (applied, unchanged, failed)", labelNames: ["outcome"], registers: [o.metrics] });
    }
    this.directory = new PartnerDirectory(o.config.partners);
    this.liveSettings = { xmppAccessDefault: o.config.gateway.xmppAccessDefault };
  }

  /** The directory to use now (never cache it: it is replaced on each change). */
  current(): PartnerDirectory {
    return this.directory;
  }

  settings(): LiveSettings {
    return this.liveSettings;
  }

  /** The store's revision applied here; -1 while the file's partners are in use. */
  get revision(): number {
    return this.rev;
  }

  /** Called after each change of the directory (not for a reload that changed nothing). */
  onChange(listener: PartnersChangeListener): void {
    this.listeners.push(listener);
  }

  /** Subscribe to changes and load the first snapshot (waiting at most startWaitMs; retried in the background after). */
  async start(): Promise<void> {
    this.subscription = this.o.bus.subscribe<ConfigChanged>(subjects.configChanged, undefined, ["kind", "key"], (change) => {
      if (change.kind === "partner" || change.kind === "settings") {
        if (change.revision !== undefined && change.revision <= this.rev) return;
        void this.refresh();
      }
    });
    const interval = this.o.refreshIntervalMs ?? 30_000;
    const deadline = Date.now() + (this.o.startWaitMs ?? 3000);
    let attempt = 0;
    // Bounded by the deadline; after it the periodic reload keeps trying.
    while (this.rev < 0 && Date.now() < deadline && !this.stopped) {
      await this.refresh();
      if (this.rev >= 0) break;
      attempt++;
      await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 1000)));
    }
    if (this.rev < 0) this.o.log.warn({ partners: this.directory.all().length }, "partner store not reachable yet: using the configuration file's partners until policy answers");
    const retry = () => {
      // Faster while still on the file's partners.
      this.timer = setTimeout(() => void this.refresh().finally(() => !this.stopped && retry()), this.rev < 0 ? 1000 : interval);
      this.timer.unref();
    };
    retry();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.subscription?.unsubscribe();
  }

  /** Reload now; concurrent calls coalesce into one more reload after the running one. */
  refresh(): Promise<void> {
    if (this.running !== undefined) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.loadOnce();
      } while (this.again && !this.stopped);
    })().finally(() => (this.running = undefined));
    return this.running;
  }

  private async loadOnce(): Promise<void> {
    let snapshot: PartnersSnapshot;
    try {
      snapshot = await (this.o.fetch ?? (() => this.ask()))();
    } catch (err) {
      this.reloads?.inc({ outcome: "failed" });
      this.o.log.debug({ err: (err as Error).message }, "partner snapshot not available");
      return;
    }
    // Applied first: `reloads?.inc(…)` would skip evaluating its argument without metrics.
    const applied = this.apply(snapshot);
    this.reloads?.inc({ outcome: applied ? "applied" : "unchanged" });
  }

  /** Apply a snapshot (ignored, returning false, unless newer than the one in use). */
  apply(snapshot: PartnersSnapshot): boolean {
    if (snapshot.revision <= this.rev) return false;
    const { partners, rejected } = partnersFromEntries(snapshot.partners);
    for (const r of rejected) this.o.log.error({ entry: r }, "a stored partner entry is invalid and was ignored");
    const previous = this.directory;
    const next = new PartnerDirectory(partners);
    this.directory = next;
    this.liveSettings = { ...snapshot.settings };
    const first = this.rev < 0;
    this.rev = snapshot.revision;
    this.revisionGauge?.set(snapshot.revision);
    this.o.log.info({ revision: snapshot.revision, partners: partners.length, first }, "partner directory updated");
    for (const listener of this.listeners) {
      try {
        listener(next, previous, snapshot.revision);
      } catch (err) {
        this.o.log.error({ err }, "a partner change listener failed");
      }
    }
    return true;
  }

  private async ask(): Promise<PartnersSnapshot> {
    const reply = await this.o.bus.request<PartnersSnapshotRequest, PartnersSnapshotReply>(subjects.partnersSnapshot, { v: 1 }, ["revision", "partners", "settings"], 2000);
    if (!Array.isArray(reply.partners) || typeof reply.revision !== "number") throw new Error("malformed partner snapshot");
    return { revision: reply.revision, partners: reply.partners, settings: reply.settings };
  }
}
