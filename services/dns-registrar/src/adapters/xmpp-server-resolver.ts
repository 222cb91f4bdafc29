/**
 * Where does a domain's XMPP s2s service live? DNS through node:dns's Resolver (the configured
 * server or the system's), the pure plan of ../domain/srv.ts, a partner's proxy override from the
 * configuration, and a bounded TTL cache in front.
 */
import { Resolver } from "node:dns/promises";
import type { ResolveReply } from "@passerelle/contracts";
import { normalizeHostName, planResolution, validateSrvRecords, type SrvLookup, type SrvRecord } from "../domain/srv.ts";
import { TtlCache } from "../domain/ttl-cache.ts";

/** The slice of node:dns's Resolver we use (a fake in tests). */
export interface DnsClient {
  resolveSrv(name: string): Promise<SrvRecord[]>;
  resolve4(name: string, options: { ttl: true }): Promise<{ address: string; ttl: number }[]>;
  resolve6(name: string, options: { ttl: true }): Promise<{ address: string; ttl: number }[]>;
}

export interface ResolverOptions {
  dns: DnsClient;
  /** Proxy override for a domain (a partner's proxyFqdn/proxyPort), or undefined. */
  proxyFor?: (domain: string) => { host: string; port: number } | undefined;
  /** Upper bound of any positive cache entry (1 h). */
  maxTtlMs?: number;
  /** How long "nothing there" is remembered (30 s). */
  negativeTtlMs?: number;
  /**
   * node:dns does not return TTLs for SRV answers: they are kept this long (capped by maxTtlMs).
   * Address fallbacks use the A/AAAA records' own TTLs.
   */
  srvTtlMs?: number;
  maxEntries?: number;
  now?: () => number;
  random?: () => number;
  /** Told about records dropped from an answer. */
  onRejected?: (domain: string, reasons: string[]) => void;
}

/** node:dns codes that mean "the name or the record type does not exist". */
const NOT_FOUND = new Set(["ENODATA", "ENOTFOUND", "NOTFOUND", "NODATA"]);

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" ? code : (err as Error).message;
}

/** A Resolver bound to `server` ("host:port"), with bounded timeout and tries. */
export function createDnsClient(server: string | undefined, timeoutMs = 3000, tries = 2): DnsClient {
  const resolver = new Resolver({ timeout: timeoutMs, tries });
  if (server !== undefined) resolver.setServers([server]);
  return resolver;
}

export type ResolveOutcome = "cache" | "proxy" | "srv" | "fallback" | "none" | "error";

export class XmppServerResolver {
  private readonly cache: TtlCache<ResolveReply>;
  private readonly inflight = new Map<string, Promise<{ reply: ResolveReply; outcome: ResolveOutcome }>>();
  private readonly maxTtlMs: number;
  private readonly negativeTtlMs: number;
  private readonly srvTtlMs: number;

  constructor(private readonly options: ResolverOptions) {
    this.maxTtlMs = options.maxTtlMs ?? 3_600_000;
    this.negativeTtlMs = options.negativeTtlMs ?? 30_000;
    this.srvTtlMs = Math.min(options.srvTtlMs ?? 300_000, this.maxTtlMs);
    this.cache = new TtlCache(options.maxEntries ?? 10_000, options.now);
  }

  /** Forget cached answers (all, or one domain's) — e.g. when a partner entry changes. */
  invalidate(domain?: string): void {
    if (domain === undefined) this.cache.clear();
    else this.cache.delete(domain.toLowerCase());
  }

  async resolve(rawDomain: string): Promise<{ reply: ResolveReply; outcome: ResolveOutcome }> {
    const domain = typeof rawDomain === "string" ? normalizeHostName(rawDomain) : undefined;
    if (domain === undefined) return { reply: { v: 1, targets: [], error: "not a valid domain name" }, outcome: "error" };
    const proxy = this.options.proxyFor?.(domain);
    if (proxy !== undefined) {
      // The partner entry's proxy FQDN overrides DNS (Lync's "proxy FQDN").
      return { reply: { v: 1, targets: [{ host: proxy.host, port: proxy.port, directTls: false, priority: 0, weight: 0 }] }, outcome: "proxy" };
    }
    const cached = this.cache.get(domain);
    if (cached !== undefined) return { reply: cached, outcome: "cache" };
    // Concurrent requests for one domain share one lookup.
    let pending = this.inflight.get(domain);
    if (pending === undefined) {
      pending = this.lookup(domain).finally(() => this.inflight.delete(domain));
      this.inflight.set(domain, pending);
    }
    return pending;
  }

  private async lookup(domain: string): Promise<{ reply: ResolveReply; outcome: ResolveOutcome }> {
    let addressTtlMs = this.negativeTtlMs;
    const [directTls, startTls] = await Promise.all([
      this.srv(`_xmpps-server._tcp.${domain}`, domain),
      this.srv(`_xmpp-server._tcp.${domain}`, domain),
    ]);
    const plan = await planResolution(
      domain,
      {
        directTls,
        startTls,
        hasAddress: async () => {
          const answers = await Promise.allSettled([this.options.dns.resolve4(domain, { ttl: true }), this.options.dns.resolve6(domain, { ttl: true })]);
          const records = answers.flatMap((a) => (a.status === "fulfilled" ? a.value.slice(0, 64) : []));
          if (records.length > 0) {
            addressTtlMs = Math.min(...records.map((r) => (Number.isFinite(r.ttl) && r.ttl >= 0 ? r.ttl * 1000 : 0)));
            return true;
          }
          const failures = answers.flatMap((a) => (a.status === "rejected" ? [errorCode(a.reason)] : []));
          const real = failures.filter((code) => !NOT_FOUND.has(code));
          return real.length > 0 ? { error: `address lookup for ${domain} failed: ${real.join(", ")}` } : false;
        },
      },
      this.options.random,
    );
    const reply: ResolveReply = plan.error === undefined ? { v: 1, targets: plan.targets } : { v: 1, targets: plan.targets, error: plan.error };
    const outcome: ResolveOutcome = plan.source !== "none" ? plan.source : plan.error !== undefined ? "error" : "none";
    // Failures (timeouts, SERVFAIL) are not cached: the next request asks again.
    if (outcome === "none" || (outcome === "error" && startTls.kind === "no-service")) this.cache.set(domain, reply, this.negativeTtlMs);
    else if (outcome === "srv") this.cache.set(domain, reply, this.srvTtlMs);
    else if (outcome === "fallback") this.cache.set(domain, reply, Math.min(addressTtlMs, this.maxTtlMs));
    return { reply, outcome };
  }

  private async srv(name: string, domain: string): Promise<SrvLookup> {
    let answer: SrvRecord[];
    try {
      answer = await this.options.dns.resolveSrv(name);
    } catch (err) {
      const code = errorCode(err);
      return NOT_FOUND.has(code) ? { kind: "none" } : { kind: "error", error: `SRV lookup ${name} failed: ${code}` };
    }
    if (!Array.isArray(answer)) return { kind: "error", error: `SRV lookup ${name}: unexpected answer` };
    const checked = validateSrvRecords(answer);
    if (checked.rejected.length > 0) this.options.onRejected?.(domain, checked.rejected);
    if (checked.noService) return { kind: "no-service" };
    if (checked.records.length === 0) return answer.length > 0 ? { kind: "error", error: `SRV answer for ${name} held no usable record` } : { kind: "none" };
    return { kind: "records", records: checked.records };
  }
}
