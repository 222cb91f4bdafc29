/**
 * `scripts/up.sh` ends here: starts NATS (JetStream) and Redis on their own ports unless
 * PASSERELLE_NATS_URL / PASSERELLE_REDIS_URL are given, writes a sample configuration (with a
 * certificate from a local CA) under .local/ the first time, and starts the five services. One
 * line per service says where it listens. Ctrl-C stops everything this started.
 *
 *   PASSERELLE_CONFIG=path   use your own configuration instead of the sample
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import type { RawConfig } from "@passerelle/config";
import { startGateway } from "@passerelle/launcher";
import { createScope, createTestCa, repoRoot, startNats, startRedis } from "@passerelle/testkit";

const local = join(repoRoot, ".local");
mkdirSync(local, { recursive: true });
const scope = createScope("local-gateway");

async function sampleConfig(): Promise<RawConfig> {
  const file = join(local, "passerelle.yaml");
  if (!existsSync(file)) {
    const ca = await createTestCa(join(local, "pki"), "Passerelle local CA");
    const leaf = await ca.issue({ domains: ["passerelle.localhost", "edge.passerelle.localhost"], xmppIdentifiers: true, validDays: 365 });
    const sample: RawConfig = {
      domains: [{ xmpp: "passerelle.localhost", sip: "passerelle.localhost" }],
      gateway: {
        edgeFqdn: "edge.passerelle.localhost",
        dialback: { secret: randomBytes(24).toString("base64url") },
      },
      edge: { listen: { host: "127.0.0.1", port: 5269 }, tls: { certFile: leaf.certFile, keyFile: leaf.keyFile, caFile: ca.certFile } },
      sip: { proxy: { host: "127.0.0.1", port: 5060, transport: "udp" }, listen: { host: "127.0.0.1", port: 5070, transport: "udp" } },
      partners: [
        {
          domain: "partner.localhost",
          description: "A sample partner: edit .local/passerelle.yaml",
          type: "federated",
          tls: "required",
          sasl: "optional",
          dialback: true,
        },
      ],
    };
    writeFileSync(file, `# Sample configuration written by scripts/up.sh; see docs/configuration.md.\n${stringify(sample)}`);
  }
  return parse(readFileSync(file, "utf8")) as RawConfig;
}

/** .local/admin-tokens with one `admin:<random>` line, made once (mode 0600). */
function adminTokensFile(): string {
  const file = join(local, "admin-tokens");
  if (!existsSync(file)) {
    mkdirSync(local, { recursive: true });
    writeFileSync(file, `admin:${randomBytes(24).toString("base64url")}\n`, { mode: 0o600 });
  }
  return file;
}

async function main(): Promise<void> {
  const config: RawConfig = process.env.PASSERELLE_CONFIG
    ? (parse(readFileSync(process.env.PASSERELLE_CONFIG, "utf8")) as RawConfig)
    : await sampleConfig();
  const natsUrl = process.env.PASSERELLE_NATS_URL ?? (await startNats(scope, { name: "nats" })).url;
  const redisUrl = process.env.PASSERELLE_REDIS_URL ?? (await startRedis(scope, { name: "redis" })).url;
  console.log(`${"nats".padEnd(20)}${natsUrl}`);
  console.log(`${"redis".padEnd(20)}${redisUrl}`);
  // The admin API (policy) and the `passerelle` CLI need a token: one is made the first time, kept
  // in .local/admin-tokens (0600) and re-read by policy when it changes. Yours: PASSERELLE_ADMIN_TOKENS_FILE.
  const tokensFile = process.env.PASSERELLE_ADMIN_TOKENS_FILE ?? adminTokensFile();
  const gateway = await startGateway(scope, {
    config: { ...config, nats: { url: natsUrl }, redis: { url: redisUrl } },
    env: { PASSERELLE_ADMIN_TOKENS_FILE: tokensFile },
  });
  const edge = config.edge?.listen;
  for (const s of gateway.services) {
    const extra =
      s.name === "edge-listener"
        ? `  xmpp-s2s ${edge?.host ?? "0.0.0.0"}:${edge?.port ?? 5269}`
        : s.name === "sip-translator"
          ? `  sip ${config.sip.listen?.host ?? "127.0.0.1"}:${config.sip.listen?.port ?? 5070}/${config.sip.listen?.transport ?? "udp"} -> proxy ${config.sip.proxy.host}:${config.sip.proxy.port ?? 5060}`
          : "";
    console.log(`${s.name.padEnd(20)}http ${s.httpUrl}${extra}  log ${s.process.logFile}`);
  }
  console.log(`configuration   ${gateway.configFile}`);
  console.log(`admin tokens    ${tokensFile}  (e.g. PASSERELLE_ADMIN_TOKEN=$(cut -d: -f2 ${tokensFile}) node --import tsx packages/cli/src/main.ts partner list)`);
  console.log("Passérelle is up. Ctrl-C stops everything it started.");
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  console.log("stopping…");
  await scope.close();
}

main().catch(async (err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  await scope.close();
  process.exit(1);
});
