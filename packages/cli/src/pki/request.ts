/**
 * A key pair and a PKCS#10 certificate request (RFC 2986) with the SANs in an extensionRequest
 * attribute (RFC 2985 §5.4.2), signed with SHA-256. The key is exported as PKCS#8 PEM
 * (RFC 5958), optionally encrypted (PBES2 with AES-256-CBC, RFC 8018).
 */
import "reflect-metadata";
import { KeyObject, createHash, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { CliError } from "../errors.ts";

export const KEY_KINDS = ["rsa2048", "rsa3072", "rsa4096", "p256"] as const;
export type KeyKind = (typeof KEY_KINDS)[number];

export function isKeyKind(s: string): s is KeyKind {
  return (KEY_KINDS as readonly string[]).includes(s);
}

export interface Subject {
  cn: string;
  o?: string | undefined;
  ou?: string | undefined;
  l?: string | undefined;
  st?: string | undefined;
  c?: string | undefined;
}

/** X.520 upper bounds (RFC 5280 Appendix A.1): 64 characters, 128 for ST/L; C is two letters (ISO 3166). */
export function checkSubject(subject: Subject): void {
  const bound = (value: string | undefined, flag: string, max: number): void => {
    if (value === undefined) return;
    if (value.trim().length === 0) throw new CliError(`--${flag}: empty value`);
    if (value.length > max) throw new CliError(`--${flag}: longer than ${max} characters`);
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(value)) throw new CliError(`--${flag}: control characters are not allowed`);
  };
  bound(subject.cn, "cn", 64);
  bound(subject.o, "o", 64);
  bound(subject.ou, "ou", 64);
  bound(subject.l, "l", 128);
  bound(subject.st, "st", 128);
  if (subject.c !== undefined && !/^[A-Za-z]{2}$/.test(subject.c)) throw new CliError(`--c: expected a two-letter country code, got "${subject.c}"`);
}

/** The subject as a distinguished name, most significant first (C, ST, L, O, OU, CN). */
export function subjectName(subject: Subject): x509.JsonName {
  const rdns: x509.JsonName = [];
  if (subject.c !== undefined) rdns.push({ C: [subject.c.toUpperCase()] });
  if (subject.st !== undefined) rdns.push({ ST: [subject.st] });
  if (subject.l !== undefined) rdns.push({ L: [subject.l] });
  if (subject.o !== undefined) rdns.push({ O: [subject.o] });
  if (subject.ou !== undefined) rdns.push({ OU: [subject.ou] });
  rdns.push({ CN: [subject.cn] });
  return rdns;
}

function algorithms(kind: KeyKind): { generate: webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams; sign: webcrypto.Algorithm | webcrypto.EcdsaParams } {
  if (kind === "p256") return { generate: { name: "ECDSA", namedCurve: "P-256" }, sign: { name: "ECDSA", hash: "SHA-256" } as webcrypto.EcdsaParams };
  const modulusLength = { rsa2048: 2048, rsa3072: 3072, rsa4096: 4096 }[kind];
  return {
    generate: { name: "RSASSA-PKCS1-v1_5", modulusLength, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
    sign: { name: "RSASSA-PKCS1-v1_5" },
  };
}

export interface CertificateRequest {
  keyPem: string;
  csrPem: string;
  /** SHA-256 of the DER SubjectPublicKeyInfo, hex: ties the CSR, the key and the certificate to come. */
  publicKeySha256: string;
}

export async function createRequest(kind: KeyKind, subject: Subject, sans: readonly string[], passphrase?: string): Promise<CertificateRequest> {
  const crypto = webcrypto;
  const alg = algorithms(kind);
  const keys = (await crypto.subtle.generateKey(alg.generate, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create(
    {
      name: subjectName(subject),
      keys,
      signingAlgorithm: alg.sign,
      extensions: [new x509.SubjectAlternativeNameExtension(sans.map((value) => ({ type: "dns" as const, value })))],
    },
    crypto,
  );
  const privateKey = KeyObject.from(keys.privateKey);
  const keyPem =
    passphrase === undefined
      ? (privateKey.export({ type: "pkcs8", format: "pem" }) as string)
      : (privateKey.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase }) as string);
  const spki = KeyObject.from(keys.publicKey).export({ type: "spki", format: "der" });
  return { keyPem, csrPem: csr.toString("pem"), publicKeySha256: createHash("sha256").update(spki).digest("hex") };
}
