/**
 * What `passerelle cert import` checks before a certificate is served: the chain (each
 * certificate issued and signed by the next, RFC 5280 §6 in its simplest path), up to a trusted
 * CA; that the key matches the leaf; that the leaf's DNS-IDs cover each local domain and the
 * edge FQDN (RFC 9525); the validity dates. Every refusal is a CliError with the reason.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from "node:crypto";
import { covers } from "./names.ts";
import { CliError } from "../errors.ts";

export const MAX_CHAIN = 10;
export const EXPIRY_WARNING_DAYS = 30;
const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** Every certificate in a PEM text, in order. */
export function parseCertificates(pem: string, what: string): X509Certificate[] {
  const blocks = pem.match(PEM_CERT) ?? [];
  if (blocks.length === 0) throw new CliError(`${what}: no PEM certificate found`);
  if (blocks.length > MAX_CHAIN) throw new CliError(`${what}: ${blocks.length} certificates, at most ${MAX_CHAIN} accepted`);
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      throw new CliError(`${what}: certificate ${i + 1} cannot be read: ${(err as Error).message}`);
    }
  });
}

/** The certificate's subject CN, for messages. */
export function label(cert: X509Certificate): string {
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1];
  return cn === undefined ? cert.subject.replace(/\n/g, ", ") : `"${cn}"`;
}

/** The DNS-IDs of a certificate's subjectAltName. */
export function dnsNames(cert: X509Certificate): string[] {
  const san = cert.subjectAltName ?? "";
  const out: string[] = [];
  for (const m of san.matchAll(/(?:^|,\s*)DNS:("(?:[^"\\]|\\.)*"|[^,]*)/g)) {
    const raw = (m[1] ?? "").trim();
    out.push(raw.startsWith('"') ? (JSON.parse(raw) as string) : raw);
  }
  return out;
}

const DAY = 86_400_000;
const EKU_SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
const EKU_CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
const EKU_ANY = "2.5.29.37.0";

export interface ImportInput {
  chainPem: string;
  keyPem: string;
  passphrase?: string | undefined;
  /** Trust anchors: --ca, or the system's store. */
  anchors: readonly X509Certificate[];
  anchorsName: string;
  domains: readonly string[];
  edgeFqdn: string;
  now: Date;
}

export interface ImportCheck {
  leaf: X509Certificate;
  chain: X509Certificate[];
  /** The key as the edge reads it: unencrypted PKCS#8 PEM. */
  keyPem: string;
  warnings: string[];
  daysLeft: number;
  names: string[];
}

function readKey(keyPem: string, passphrase: string | undefined): KeyObject {
  const encrypted = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(keyPem);
  if (encrypted && passphrase === undefined) throw new CliError("the key is encrypted: pass --passphrase-file");
  try {
    return createPrivateKey(passphrase === undefined ? { key: keyPem, format: "pem" } : { key: keyPem, format: "pem", passphrase });
  } catch (err) {
    const message = (err as Error).message;
    if (encrypted) throw new CliError(`cannot decrypt the key (wrong passphrase?): ${message}`);
    throw new CliError(`the key cannot be read: ${message}`);
  }
}

function checkDates(cert: X509Certificate, which: string, now: Date): void {
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  if (now.getTime() < from) throw new CliError(`${which} ${label(cert)} is not valid yet: valid from ${new Date(from).toISOString()}`);
  if (now.getTime() > to) throw new CliError(`${which} ${label(cert)} expired on ${new Date(to).toISOString()}`);
}

export function checkImport(input: ImportInput): ImportCheck {
  const chain = parseCertificates(input.chainPem, "--cert");
  const leaf = chain[0] as X509Certificate;
  const warnings: string[] = [];

  // The key matches the leaf's public key.
  const key = readKey(input.keyPem, input.passphrase);
  if (!leaf.checkPrivateKey(key)) throw new CliError(`the key does not match the certificate ${label(leaf)} (its public key is another one)`);

  // Each certificate is issued and signed by the next one.
  for (let i = 0; i + 1 < chain.length; i++) {
    const child = chain[i] as X509Certificate;
    const parent = chain[i + 1] as X509Certificate;
    if (child.checkIssued(parent) === false || !child.verify(parent.publicKey)) {
      throw new CliError(`chain broken: certificate ${i + 2} ${label(parent)} did not sign certificate ${i + 1} ${label(child)} (order: leaf first, then each issuer)`);
    }
  }
  // The last one is a trust anchor, or is signed by one.
  const last = chain[chain.length - 1] as X509Certificate;
  const anchored = input.anchors.some(
    (ca) => ca.fingerprint256 === last.fingerprint256 || (last.checkIssued(ca) && last.verify(ca.publicKey)),
  );
  if (!anchored) {
    const issuer = last.issuer.replace(/\n/g, ", ");
    throw new CliError(`untrusted chain: the issuer of ${label(last)} (${issuer}) is not in ${input.anchorsName}`);
  }

  // Validity dates of every certificate we serve.
  checkDates(leaf, "the certificate", input.now);
  chain.slice(1).forEach((c, i) => checkDates(c, `chain certificate ${i + 2}`, input.now));
  const daysLeft = Math.floor((Date.parse(leaf.validTo) - input.now.getTime()) / DAY);
  if (daysLeft < EXPIRY_WARNING_DAYS) warnings.push(`the certificate expires in ${daysLeft} day(s), on ${new Date(leaf.validTo).toISOString()}`);

  // RFC 6120 §13.7.1.2: partners check our domain against the certificate's DNS-IDs.
  const names = dnsNames(leaf);
  const required = [...input.domains, input.edgeFqdn];
  const missing = [...new Set(required)].filter((d) => !names.some((n) => covers(n, d)));
  if (missing.length > 0) {
    throw new CliError(`the certificate does not cover ${missing.join(", ")} (its DNS names: ${names.length === 0 ? "none" : names.join(", ")})`);
  }

  // RFC 5280 §4.2.1.12: with an extended key usage, it must allow TLS servers; the edge also
  // presents it as a client on outbound streams (SASL EXTERNAL, XEP-0178), where partners
  // may want clientAuth.
  const eku = leaf.keyUsage as string[] | undefined;
  if (eku !== undefined && !eku.includes(EKU_SERVER_AUTH) && !eku.includes(EKU_ANY)) {
    throw new CliError(`the certificate ${label(leaf)} is not for TLS servers: its extended key usage lacks serverAuth`);
  }
  if (eku !== undefined && !eku.includes(EKU_CLIENT_AUTH) && !eku.includes(EKU_ANY)) {
    warnings.push("the extended key usage lacks clientAuth: partners that check it may refuse our outbound connections' SASL EXTERNAL (dialback still works)");
  }

  const keyPem = key.export({ type: "pkcs8", format: "pem" }) as string;
  return { leaf, chain, keyPem, warnings, daysLeft, names };
}
