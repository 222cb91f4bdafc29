/** What we publish for each local domain, and how it compares with what the zone holds. */
import type { SrvData, UpdateOperation } from "../protocol/update.ts";
import { TYPE } from "../protocol/wire.ts";

export interface PublishSettings {
  readonly edgeFqdn: string;
  readonly port: number;
  readonly ttl: number;
  readonly priority: number;
  readonly weight: number;
  /** The edge's XEP-0368 direct-TLS port (`edge.directTls`); undefined: none, nothing published for it. */
  readonly directTlsPort?: number | undefined;
}

export interface DesiredRrset {
  readonly domain: string;
  /** e.g. `_xmpp-server._tcp.contoso.com` (RFC 6120 §3.2.1). */
  readonly name: string;
  readonly records: readonly SrvData[];
}

/**
 * RFC 6120 §3.2.1: `_xmpp-server._tcp.<domain>` → the edge FQDN and port; and, when the edge has a
 * direct-TLS port, XEP-0368 §3 `_xmpps-server._tcp.<domain>` → the edge FQDN and that port.
 */
export function desiredRrsets(domains: readonly string[], settings: PublishSettings): DesiredRrset[] {
  const srv = (port: number): SrvData[] => [{ priority: settings.priority, weight: settings.weight, port, target: settings.edgeFqdn }];
  return domains.flatMap((domain) => [
    { domain, name: `_xmpp-server._tcp.${domain}`, records: srv(settings.port) },
    ...(settings.directTlsPort === undefined ? [] : [{ domain, name: `_xmpps-server._tcp.${domain}`, records: srv(settings.directTlsPort) }]),
  ]);
}

export type Drift = "in-sync" | "missing" | "differs";

const key = (r: SrvData): string => `${r.priority} ${r.weight} ${r.port} ${r.target.toLowerCase().replace(/\.$/, "")}`;

/** Same set of records (order and the target's case and final dot do not matter)? */
export function compareRrset(current: readonly SrvData[], desired: readonly SrvData[]): Drift {
  if (current.length === 0) return "missing";
  const a = [...new Set(current.map(key))].sort();
  const b = [...new Set(desired.map(key))].sort();
  return a.length === b.length && a.every((v, i) => v === b[i]) ? "in-sync" : "differs";
}

/** RFC 2136 §2.5.2 then §2.5.1: replace our RRset, touching no other name or type in the zone. */
export function replaceOperations(rrset: DesiredRrset, ttl: number): UpdateOperation[] {
  return [{ op: "delete-rrset", name: rrset.name, type: TYPE.SRV }, ...rrset.records.map((srv) => ({ op: "add-srv" as const, name: rrset.name, ttl, srv }))];
}

/**
 * RFC 2136 §2.5.4: remove exactly the records we published at `name`, one RR at a time, so a
 * record someone else added to that RRset (or changed since) is left where it is.
 */
export function removeOperations(name: string, published: readonly SrvData[]): UpdateOperation[] {
  return published.map((srv) => ({ op: "delete-srv" as const, name, srv }));
}

/** A secret file holds either the bare base64 secret or a `key "…" { algorithm …; secret "…"; };` clause (tsig-keygen's output). */
export function parseSecretFile(text: string): Buffer {
  const clause = /secret\s+"([^"]+)"/.exec(text)?.[1];
  const base64 = (clause ?? text).trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) throw new Error("the TSIG secret is not base64");
  const secret = Buffer.from(base64, "base64");
  if (secret.length < 16) throw new Error("the TSIG secret is shorter than 16 bytes");
  return secret;
}
