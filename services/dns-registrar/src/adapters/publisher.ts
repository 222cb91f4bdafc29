/**
 * Reconciles our SRV records with the authoritative server: reads what it holds, reports drift,
 * publishes what is missing and replaces what differs by signed RFC 2136 updates.
 */
import { Resolver } from "node:dns/promises";
import { compareRrset, removeOperations, replaceOperations, type DesiredRrset, type Drift } from "../domain/publish-plan.ts";
import type { SrvData } from "../protocol/update.ts";
import { sendUpdate, type UpdateOutcome, type UpdateTarget } from "./dns-update-client.ts";

export interface ReconcileResult {
  readonly domain: string;
  readonly name: string;
  readonly zone: string | undefined;
  readonly drift: Drift | "unknown";
  readonly found: readonly SrvData[];
  /** undefined: nothing had to be sent. */
  readonly update: UpdateOutcome | undefined;
  readonly error?: string;
}

export interface PublisherOptions {
  readonly target: UpdateTarget;
  /** Configured zones per domain. */
  readonly zones: Readonly<Record<string, string>>;
  readonly ttl: number;
  readonly timeoutMs?: number;
}

const codeOf = (err: unknown): string | undefined => (err instanceof Error && "code" in err && typeof err.code === "string" ? err.code : undefined);
const noData = (err: unknown): boolean => ["ENOTFOUND", "ENODATA"].includes(codeOf(err) ?? "");

export class Publisher {
  private readonly resolver: Resolver;
  constructor(private readonly options: PublisherOptions) {
    this.resolver = new Resolver({ timeout: options.timeoutMs ?? 2000, tries: 2 });
    const host = options.target.host.includes(":") ? `[${options.target.host}]` : options.target.host;
    this.resolver.setServers([`${host}:${options.target.port}`]);
  }

  /** The configured zone, else the closest enclosing name the server holds a SOA for (RFC 2136 §4: updates go to the zone). */
  async zoneOf(domain: string): Promise<string> {
    const configured = this.options.zones[domain];
    if (configured !== undefined) return configured;
    const labels = domain.split(".");
    for (let i = 0; i < labels.length - 1; i++) {
      const candidate = labels.slice(i).join(".");
      try {
        await this.resolver.resolveSoa(candidate);
        return candidate;
      } catch (err) {
        // An authoritative-only server refuses names outside its zones: not this one, try the parent.
        if (!noData(err) && codeOf(err) !== "EREFUSED") throw err;
      }
    }
    throw new Error(`no zone found for ${domain} on ${this.options.target.host}:${this.options.target.port}; set dns.publish.zones`);
  }

  async current(name: string): Promise<SrvData[]> {
    try {
      return (await this.resolver.resolveSrv(name)).map((r) => ({ priority: r.priority, weight: r.weight, port: r.port, target: r.name }));
    } catch (err) {
      if (noData(err)) return [];
      throw err;
    }
  }

  async reconcileOne(rrset: DesiredRrset): Promise<ReconcileResult> {
    let zone: string | undefined;
    let found: SrvData[] = [];
    try {
      zone = await this.zoneOf(rrset.domain);
      found = await this.current(rrset.name);
      const drift = compareRrset(found, rrset.records);
      if (drift === "in-sync") return { domain: rrset.domain, name: rrset.name, zone, drift, found, update: undefined };
      const update = await sendUpdate(this.options.target, zone, replaceOperations(rrset, this.options.ttl));
      return { domain: rrset.domain, name: rrset.name, zone, drift, found, update };
    } catch (err) {
      return { domain: rrset.domain, name: rrset.name, zone, drift: "unknown", found, update: undefined, error: (err as Error).message };
    }
  }

  /** Removes exactly the records we published at `name` (RFC 2136 §2.5.4); others at that name stay. */
  async remove(zone: string, name: string, published: readonly SrvData[]): Promise<UpdateOutcome> {
    return sendUpdate(this.options.target, zone, removeOperations(name, published));
  }

  async reconcile(rrsets: readonly DesiredRrset[]): Promise<ReconcileResult[]> {
    const results: ReconcileResult[] = [];
    for (const rrset of rrsets) results.push(await this.reconcileOne(rrset));
    return results;
  }
}
