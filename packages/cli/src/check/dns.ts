/** DNS as `passerelle check` sees it: SRV (RFC 2782 order) and addresses, from one resolver. */
import { Resolver } from "node:dns/promises";
import { isIP } from "node:net";

export interface SrvTarget {
  host: string;
  port: number;
  priority: number;
  weight: number;
}

/** At most this many records are looked at (an answer is untrusted input). */
const MAX_RECORDS = 32;

const codeOf = (err: unknown): string | undefined => (err instanceof Error && "code" in err && typeof err.code === "string" ? err.code : undefined);
/** "Nothing there" answers, as opposed to failures (timeouts, SERVFAIL, refused). */
export const isNoData = (err: unknown): boolean => ["ENOTFOUND", "ENODATA"].includes(codeOf(err) ?? "");

export class CheckResolver {
  private readonly resolver: Resolver;

  /** `server`: "IP[:port]" (config dns.server), else the system's resolvers. */
  constructor(
    readonly server: string | undefined,
    timeoutMs = 3000,
  ) {
    this.resolver = new Resolver({ timeout: timeoutMs, tries: 2 });
    if (server !== undefined) this.resolver.setServers([server]);
  }

  get label(): string {
    return this.server ?? "the system's resolvers";
  }

  /** RFC 2782: priority ascending, then weight descending (a stable order for a report). An absent name → []. */
  async srv(name: string): Promise<SrvTarget[]> {
    try {
      const records = await this.resolver.resolveSrv(name);
      return records
        .slice(0, MAX_RECORDS)
        .map((r) => ({ host: r.name.replace(/\.$/, ""), port: r.port, priority: r.priority, weight: r.weight }))
        .sort((a, b) => a.priority - b.priority || b.weight - a.weight);
    } catch (err) {
      if (isNoData(err)) return [];
      throw err;
    }
  }

  /** A and AAAA addresses of `host` ([] when it has none); an IP literal is its own address. */
  async addresses(host: string): Promise<string[]> {
    if (isIP(host) !== 0) return [host];
    const found: string[] = [];
    let failure: unknown;
    for (const family of [4, 6] as const) {
      try {
        found.push(...(family === 4 ? await this.resolver.resolve4(host) : await this.resolver.resolve6(host)).slice(0, MAX_RECORDS));
      } catch (err) {
        if (!isNoData(err)) failure = err;
      }
    }
    if (found.length === 0 && failure !== undefined) throw failure;
    return found;
  }
}

/** The SRV records as one line: `host:port (prio/weight), …`. */
export function describeTargets(targets: readonly SrvTarget[]): string {
  return targets.map((t) => `${t.host}:${t.port} (priority ${t.priority}, weight ${t.weight})`).join(", ");
}
