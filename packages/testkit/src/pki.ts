// A test PKI with the openssl CLI: a CA and leaf certificates whose identities follow
// RFC 9525 (DNS-ID) and RFC 6120 §13.7.1.2 (SRV-ID `_xmpp-server.<domain>`, RFC 4985;
// id-on-xmppAddr otherName), plus the broken ones negative tests need.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCommand } from "./run-command.ts";

/** id-on-xmppAddr, RFC 6120 §13.7.1.4 */
export const OID_XMPP_ADDR = "1.3.6.1.5.5.7.8.5";
/** id-on-dnsSRV (SRVName), RFC 4985 */
export const OID_DNS_SRV = "1.3.6.1.5.5.7.8.7";

export interface CertificateFiles {
  /** Names the certificate is for (first = subject CN). */
  readonly domains: readonly string[];
  readonly keyFile: string;
  readonly certFile: string;
  /** Leaf then CA, PEM (for servers that want the chain in one file). */
  readonly chainFile: string;
  /** Key + leaf + CA in one PEM (ejabberd's `certfiles`). */
  readonly pemFile: string;
}

export interface LeafOptions {
  readonly domains: readonly string[];
  /** Add id-on-xmppAddr and SRV-ID `_xmpp-server.<domain>` for every domain. */
  readonly xmppIdentifiers?: boolean;
  /** Only the id-on-xmppAddr otherName (overrides xmppIdentifiers for that identifier). */
  readonly xmppAddr?: boolean;
  /** Only the SRV-ID otherName (overrides xmppIdentifiers for that identifier). */
  readonly srvId?: boolean;
  /** File base name. Default: the first domain. */
  readonly name?: string;
  /** Default 30. */
  readonly validDays?: number;
  /** Explicit validity window as openssl dates (YYYYMMDDHHMMSSZ). */
  readonly notBefore?: string;
  readonly notAfter?: string;
}

export interface TestCa {
  readonly dir: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** A leaf certificate signed by this CA, EKU serverAuth + clientAuth. */
  issue(options: LeafOptions): Promise<CertificateFiles>;
  /** A certificate signed by this CA that expired in 2020. */
  issueExpired(domains: readonly string[], name?: string): Promise<CertificateFiles>;
  /** A valid certificate from this CA for `wrong-name.<domain>` instead of the domain. */
  issueWrongName(domain: string, name?: string): Promise<CertificateFiles>;
}

const KEY_ARGS = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

function caConfig(dir: string): string {
  return `[ca]
default_ca = test_ca

[test_ca]
dir = ${dir}
database = ${dir}/index.txt
new_certs_dir = ${dir}/issued
serial = ${dir}/serial
certificate = ${dir}/ca.crt
private_key = ${dir}/ca.key
default_md = sha256
default_days = 30
policy = any_policy
unique_subject = no
copy_extensions = none
email_in_dn = no

[any_policy]
commonName = supplied
`;
}

function leafExtensions(options: LeafOptions): string {
  const alt: string[] = [];
  options.domains.forEach((domain, i) => alt.push(`DNS.${i + 1} = ${domain}`));
  const xmppAddr = options.xmppAddr ?? options.xmppIdentifiers === true;
  const srvId = options.srvId ?? options.xmppIdentifiers === true;
  let n = 0;
  for (const domain of options.domains) {
    if (xmppAddr) alt.push(`otherName.${++n} = ${OID_XMPP_ADDR};UTF8:${domain}`);
    if (srvId) alt.push(`otherName.${++n} = ${OID_DNS_SRV};IA5STRING:_xmpp-server.${domain}`);
  }
  return `[leaf_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyAgreement
extendedKeyUsage = serverAuth,clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = @alt

[alt]
${alt.join("\n")}
`;
}

function writeBundles(base: string, domains: readonly string[], caCertFile: string | undefined): CertificateFiles {
  const keyFile = `${base}.key`;
  const certFile = `${base}.crt`;
  const chainFile = `${base}.chain.pem`;
  const pemFile = `${base}.pem`;
  const cert = readFileSync(certFile, "utf8");
  const ca = caCertFile === undefined ? "" : readFileSync(caCertFile, "utf8");
  writeFileSync(chainFile, cert + ca);
  writeFileSync(pemFile, readFileSync(keyFile, "utf8") + cert + ca);
  return { domains: [...domains], keyFile, certFile, chainFile, pemFile };
}

/** Creates a CA (EC P-256) in `dir`. */
export async function createTestCa(dir: string, commonName = "Passerelle Test CA"): Promise<TestCa> {
  await runCommand("mkdir", ["-p", join(dir, "issued")]);
  writeFileSync(join(dir, "index.txt"), "");
  writeFileSync(join(dir, "serial"), `${Date.now().toString(16).toUpperCase().padStart(16, "0")}\n`);
  const configFile = join(dir, "ca.cnf");
  writeFileSync(configFile, caConfig(dir));
  const certFile = join(dir, "ca.crt");
  const keyFile = join(dir, "ca.key");
  await runCommand("openssl", [
    "req", "-x509", ...KEY_ARGS, "-keyout", keyFile, "-out", certFile, "-days", "60",
    "-subj", `/CN=${commonName}`,
    "-addext", "basicConstraints=critical,CA:TRUE",
    "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    "-addext", "subjectKeyIdentifier=hash",
  ]);

  // `openssl ca` keeps a database: one issuance at a time.
  let queue: Promise<unknown> = Promise.resolve();
  const issue = (options: LeafOptions): Promise<CertificateFiles> => {
    const task = queue.then(async () => {
      const first = options.domains[0];
      if (first === undefined) throw new Error("issue: at least one domain is needed");
      const base = join(dir, options.name ?? first);
      const extFile = `${base}.ext.cnf`;
      writeFileSync(extFile, leafExtensions(options));
      await runCommand("openssl", ["req", "-new", ...KEY_ARGS, "-keyout", `${base}.key`, "-out", `${base}.csr`, "-subj", `/CN=${first}`]);
      const validity =
        options.notBefore !== undefined && options.notAfter !== undefined
          ? ["-startdate", options.notBefore, "-enddate", options.notAfter]
          : ["-days", String(options.validDays ?? 30)];
      await runCommand("openssl", [
        "ca", "-batch", "-notext", "-config", configFile, "-in", `${base}.csr`, "-out", `${base}.crt`,
        "-extfile", extFile, "-extensions", "leaf_ext", ...validity,
      ]);
      return writeBundles(base, options.domains, certFile);
    });
    queue = task.catch(() => undefined);
    return task;
  };

  return {
    dir,
    certFile,
    keyFile,
    issue,
    issueExpired: (domains, name) =>
      issue({ domains, xmppIdentifiers: true, name: name ?? `expired.${domains[0] ?? "x"}`, notBefore: "20200101000000Z", notAfter: "20200201000000Z" }),
    issueWrongName: (domain, name) =>
      issue({ domains: [`wrong-name.${domain}`], xmppIdentifiers: true, name: name ?? `wrong-name.${domain}` }),
  };
}

/** A self-signed certificate (no CA) for the domains, DNS-IDs only. */
export async function createSelfSigned(dir: string, domains: readonly string[], name?: string): Promise<CertificateFiles> {
  const first = domains[0];
  if (first === undefined) throw new Error("createSelfSigned: at least one domain is needed");
  const base = join(dir, name ?? `self-signed.${first}`);
  await runCommand("mkdir", ["-p", dir]);
  await runCommand("openssl", [
    "req", "-x509", ...KEY_ARGS, "-keyout", `${base}.key`, "-out", `${base}.crt`, "-days", "30",
    "-subj", `/CN=${first}`,
    "-addext", `subjectAltName=${domains.map((d) => `DNS:${d}`).join(",")}`,
    "-addext", "extendedKeyUsage=serverAuth,clientAuth",
  ]);
  return writeBundles(base, domains, undefined);
}
