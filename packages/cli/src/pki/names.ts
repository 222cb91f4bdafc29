/**
 * The names a certificate of the edge must carry: each local XMPP domain (the DNS-ID partners
 * check, RFC 6120 §13.7.1.2 / RFC 9525), `sip.<domain>` for each SIP domain, the edge FQDN.
 */
import type { GatewayConfig } from "@passerelle/config";
import { CliError } from "../errors.ts";

export const MAX_SANS = 100;

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** A DNS name for a certificate (lower-cased); a leading `*.` wildcard label is allowed. Undefined: valid. */
export function dnsNameProblem(name: string): string | undefined {
  if (name.length === 0) return "empty name";
  if (name.length > 253) return "longer than 253 characters";
  const labels = name.split(".");
  if (labels.length < 2) return "not a fully qualified domain name";
  for (const [i, label] of labels.entries()) {
    if (i === 0 && label === "*") continue;
    if (label.includes("*")) return "a wildcard may only be the whole first label";
    if (!LABEL.test(label)) return `"${label}" is not a valid DNS label`;
  }
  if (/^\d+$/.test(labels[labels.length - 1] ?? "")) return "looks like an IP address, not a DNS name";
  return undefined;
}

export interface NameSource {
  name: string;
  /** Why it is there: "XMPP domain", "SIP domain", "edge FQDN", "--san". */
  reason: string;
}

/** The SANs for a CSR: from the configuration, then the extra ones; deduplicated, validated. */
export function sansFor(config: Pick<GatewayConfig, "domains" | "gateway">, extra: readonly string[]): NameSource[] {
  const out: NameSource[] = [];
  const seen = new Set<string>();
  const add = (raw: string, reason: string): void => {
    const name = raw.trim().toLowerCase().replace(/\.$/, "");
    const problem = dnsNameProblem(name);
    if (problem !== undefined) throw new CliError(`${reason === "--san" ? "--san" : reason} "${raw}": ${problem}`);
    if (seen.has(name)) return;
    seen.add(name);
    out.push({ name, reason });
  };
  for (const d of config.domains) add(d.xmpp, "XMPP domain");
  for (const d of config.domains) add(`sip.${d.sip}`, "SIP domain");
  add(config.gateway.edgeFqdn, "edge FQDN");
  for (const e of extra) add(e, "--san");
  if (out.length > MAX_SANS) throw new CliError(`${out.length} names: at most ${MAX_SANS} fit in one request`);
  return out;
}

/** Whether a certificate DNS-ID (maybe a wildcard) covers `name` (RFC 9525 §6.3: the wildcard matches one whole label). */
export function covers(dnsId: string, name: string): boolean {
  const id = dnsId.toLowerCase().replace(/\.$/, "");
  const n = name.toLowerCase();
  if (id === n) return true;
  if (!id.startsWith("*.")) return false;
  const dot = n.indexOf(".");
  return dot > 0 && n.slice(dot + 1) === id.slice(2);
}
