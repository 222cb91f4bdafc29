// A real bind9 (named) authoritative for the test domains: SRV `_xmpp-server._tcp.<domain>`
// and A records as the scenario asks, listening on one address inside the test namespace;
// optionally a TSIG key (hmac-sha256) allowed to send RFC 2136 updates.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Netns } from "./netns.ts";
import { spawnProcess } from "./processes.ts";
import type { RunningProcess } from "./processes.ts";
import { runCommand } from "./run-command.ts";
import type { CommandResult } from "./run-command.ts";
import type { Scope } from "./scope.ts";

export type DnsRecord =
  | { readonly type: "A"; readonly name: string; readonly address: string; readonly ttl?: number }
  | {
      readonly type: "SRV";
      readonly name: string;
      readonly target: string;
      readonly port: number;
      readonly priority?: number;
      readonly weight?: number;
      readonly ttl?: number;
    }
  | { readonly type: "CNAME" | "TXT"; readonly name: string; readonly value: string; readonly ttl?: number };

export interface DnsZone {
  /** The zone apex, e.g. `prosody.test`. */
  readonly domain: string;
  /** Names are absolute (with or without the final dot). */
  readonly records: readonly DnsRecord[];
  /** Accept RFC 2136 updates signed with the server's TSIG key. */
  readonly dynamic?: boolean;
}

export interface TsigKey {
  readonly name: string;
  readonly algorithm: "hmac-sha256";
  /** Base64. */
  readonly secret: string;
  /** A file with the `key "…" { … };` clause, for `nsupdate -k`. */
  readonly file: string;
}

export interface Bind9Options {
  readonly netns: Netns;
  /** Listen address (port 53), e.g. 127.0.0.53. */
  readonly address: string;
  readonly zones: readonly DnsZone[];
  /** Create a TSIG key (used by zones with `dynamic: true`). Default: when a zone is dynamic. */
  readonly tsigKeyName?: string;
  readonly name?: string;
}

export interface Bind9Server {
  readonly address: string;
  readonly tsig: TsigKey | undefined;
  readonly process: RunningProcess;
  /** `dig @address` run inside the namespace, short output. */
  dig(type: string, name: string): Promise<string>;
  /** Runs `nsupdate` inside the namespace with the TSIG key (when there is one). */
  nsupdate(script: string, signed?: boolean): Promise<CommandResult>;
  /**
   * Rewrites a static zone (one started without `dynamic`) with these records and has named
   * reload it (SIGHUP). The new answers are served shortly after: poll `dig` for them.
   */
  replaceZone(zone: DnsZone): void;
  stop(): Promise<void>;
}

const fqdn = (name: string): string => (name.endsWith(".") ? name : `${name}.`);

/** The records for one XMPP domain: SRV `_xmpp-server._tcp` → target, and the target's A. */
export function xmppServerRecords(domain: string, address: string, options: { target?: string; port?: number; srvOnly?: boolean } = {}): DnsRecord[] {
  const target = options.target ?? (options.srvOnly === true ? `s2s.${domain}` : domain);
  return [
    { type: "SRV", name: `_xmpp-server._tcp.${domain}`, target, port: options.port ?? 5269, priority: 0, weight: 5 },
    { type: "A", name: target, address },
  ];
}

function zoneFile(zone: DnsZone): string {
  const apex = fqdn(zone.domain);
  const lines = [
    "$TTL 60",
    `${apex} IN SOA ns.${apex} hostmaster.${apex} 1 60 60 600 60`,
    `${apex} IN NS ns.${apex}`,
    `ns.${apex} IN A 127.0.0.53`,
  ];
  for (const record of zone.records) {
    const ttl = record.ttl ?? 60;
    const name = fqdn(record.name);
    switch (record.type) {
      case "A":
        lines.push(`${name} ${ttl} IN A ${record.address}`);
        break;
      case "SRV":
        lines.push(`${name} ${ttl} IN SRV ${record.priority ?? 0} ${record.weight ?? 5} ${record.port} ${fqdn(record.target)}`);
        break;
      case "CNAME":
        lines.push(`${name} ${ttl} IN CNAME ${fqdn(record.value)}`);
        break;
      case "TXT":
        lines.push(`${name} ${ttl} IN TXT ${JSON.stringify(record.value)}`);
        break;
    }
  }
  return `${lines.join("\n")}\n`;
}

async function makeTsigKey(dir: string, name: string): Promise<TsigKey> {
  const { stdout } = await runCommand("tsig-keygen", ["-a", "hmac-sha256", name]);
  const secret = /secret\s+"([^"]+)"/.exec(stdout)?.[1];
  if (secret === undefined) throw new Error(`tsig-keygen printed no secret:\n${stdout}`);
  const file = join(dir, `${name}.key`);
  writeFileSync(file, stdout);
  return { name, algorithm: "hmac-sha256", secret, file };
}

export async function startBind9(scope: Scope, options: Bind9Options): Promise<Bind9Server> {
  const name = options.name ?? "bind9";
  const dir = scope.dir(name);
  const needsKey = options.tsigKeyName !== undefined || options.zones.some((z) => z.dynamic === true);
  const tsig = needsKey ? await makeTsigKey(dir, options.tsigKeyName ?? "passerelle-test-key") : undefined;
  const zoneClauses = options.zones.map((zone) => {
    const file = join(dir, `${zone.domain}.zone`);
    writeFileSync(file, zoneFile(zone));
    const update = zone.dynamic === true && tsig !== undefined ? `\n  allow-update { key "${tsig.name}"; };` : "";
    return `zone "${zone.domain}" {\n  type primary;\n  file "${file}";${update}\n};`;
  });
  const config = [
    "options {",
    `  directory "${dir}";`,
    `  pid-file "${join(dir, "named.pid")}";`,
    `  session-keyfile "${join(dir, "session.key")}";`,
    `  managed-keys-directory "${dir}";`,
    `  listen-on port 53 { ${options.address}; };`,
    "  listen-on-v6 { none; };",
    "  recursion no;",
    "  dnssec-validation no;",
    "  allow-query { any; };",
    "  notify no;",
    "};",
    "controls { };",
    tsig === undefined ? "" : `key "${tsig.name}" {\n  algorithm hmac-sha256;\n  secret "${tsig.secret}";\n};`,
    ...zoneClauses,
    "",
  ].join("\n");
  const configFile = join(dir, "named.conf");
  writeFileSync(configFile, config);
  await runCommand("named-checkconf", ["-z", configFile]);

  const child = spawnProcess(scope, {
    name,
    command: "named",
    args: ["-g", "-4", "-c", configFile, "-n", "1"],
    netns: options.netns,
  });
  await child.waitForLog(/running$|\brunning\b/, 10_000);

  const dig = async (type: string, qname: string): Promise<string> => {
    const result = await options.netns.exec("dig", [`@${options.address}`, "+short", "+time=1", "+tries=1", type, qname], { timeoutMs: 5_000 });
    return result.stdout.trim();
  };
  return {
    address: options.address,
    tsig,
    process: child,
    dig,
    nsupdate: (script, signed = true) =>
      options.netns.exec("nsupdate", signed && tsig !== undefined ? ["-k", tsig.file] : [], {
        input: `server ${options.address}\n${script}\nsend\n`,
        allowFailure: true,
        timeoutMs: 10_000,
      }),
    replaceZone: (zone) => {
      const known = options.zones.find((z) => z.domain === zone.domain);
      if (known === undefined || known.dynamic === true) throw new Error(`replaceZone: ${zone.domain} is not a static zone of this server`);
      writeFileSync(join(dir, `${zone.domain}.zone`), zoneFile(zone));
      const pid = Number(readFileSync(join(dir, "named.pid"), "utf8").trim());
      if (!Number.isInteger(pid) || pid <= 1) throw new Error("replaceZone: named.pid holds no process id");
      process.kill(pid, "SIGHUP");
    },
    stop: async () => {
      await child.stop();
    },
  };
}
