/** `passerelle cert request|import`: the edge's key, CSR and certificate. */
import { X509Certificate } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { rootCertificates } from "node:tls";
import { bool, list, str, type ParsedArgs } from "../args.ts";
import type { CliContext, Command, CommandGroup } from "../command.ts";
import { configOption, loadConfig } from "../config-file.ts";
import { CliError } from "../errors.ts";
import { readBounded, readPassphrase, writeAtomic, writeNew } from "../files.ts";
import { checkImport, label } from "../pki/certificate-check.ts";
import { sansFor } from "../pki/names.ts";
import { KEY_KINDS, checkSubject, createRequest, isKeyKind, type Subject } from "../pki/request.ts";

const SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";
const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** A file name from the friendly name or CN: letters, digits, dot, dash, underscore. */
export function fileBase(name: string): string {
  const base = name.replace(/\*/g, "wildcard").replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^[-.]+|-+$/g, "");
  return base.length === 0 ? "passerelle" : base.slice(0, 100);
}

const request: Command = {
  name: "request",
  summary: "make a key and a PKCS#10 CSR for the edge, with SANs from the configuration",
  options: {
    config: configOption,
    key: { type: "string", placeholder: KEY_KINDS.join("|"), description: "key type (default rsa2048)" },
    cn: { type: "string", placeholder: "NAME", description: "subject common name (default: the edge FQDN)" },
    o: { type: "string", placeholder: "ORG", description: "subject organisation" },
    ou: { type: "string", placeholder: "UNIT", description: "subject organisational unit" },
    l: { type: "string", placeholder: "CITY", description: "subject locality" },
    st: { type: "string", placeholder: "STATE", description: "subject state or province" },
    c: { type: "string", placeholder: "CC", description: "subject country (two letters)" },
    san: { type: "string", multiple: true, placeholder: "DNS-NAME", description: "an extra DNS name besides those from the configuration" },
    name: { type: "string", placeholder: "TEXT", description: "friendly name, kept in the summary file and used for the file names" },
    "out-dir": { type: "string", placeholder: "DIR", description: "where to write the key, CSR and summary (default: the current directory)" },
    "passphrase-file": { type: "string", placeholder: "FILE", description: "encrypt the key (PKCS#8, AES-256-CBC) with the passphrase in this file" },
    force: { type: "boolean", description: "replace existing files" },
    yes: { type: "boolean", short: "y", description: "write without asking" },
    json: { type: "boolean", description: "print the summary as JSON" },
  },
  async run(args: ParsedArgs, ctx: CliContext): Promise<number> {
    if (args.positionals.length > 0) throw new CliError(`unexpected argument "${args.positionals[0]}"`);
    const keyKind = str(args, "key") ?? "rsa2048";
    if (!isKeyKind(keyKind)) throw new CliError(`--key: expected one of ${KEY_KINDS.join(", ")}, got "${keyKind}"`);
    const config = loadConfig(str(args, "config"), ctx);
    const subject: Subject = { cn: str(args, "cn") ?? config.gateway.edgeFqdn, o: str(args, "o"), ou: str(args, "ou"), l: str(args, "l"), st: str(args, "st"), c: str(args, "c") };
    checkSubject(subject);
    const sans = sansFor(config, list(args, "san"));
    const friendly = str(args, "name") ?? subject.cn;
    if (friendly.length > 256) throw new CliError("--name: longer than 256 characters");
    const passphraseFile = str(args, "passphrase-file");
    const passphrase = passphraseFile === undefined ? undefined : readPassphrase(resolve(ctx.cwd, passphraseFile));
    const outDir = resolve(ctx.cwd, str(args, "out-dir") ?? ".");
    const base = join(outDir, fileBase(friendly));
    const files = { key: `${base}.key`, csr: `${base}.csr`, summary: `${base}.json` };
    const force = bool(args, "force") === true;
    if (!force) {
      for (const f of Object.values(files)) if (existsSync(f)) throw new CliError(`${f} already exists (pass --force to replace it)`);
    }

    const subjectText = [["C", subject.c?.toUpperCase()], ["ST", subject.st], ["L", subject.l], ["O", subject.o], ["OU", subject.ou], ["CN", subject.cn]]
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${v}`)
      .join(", ");
    const json = bool(args, "json") === true;
    if (!json) {
      ctx.out(`Certificate request "${friendly}"`);
      ctx.out(`  subject:  ${subjectText}`);
      ctx.out(`  key:      ${keyKind}${passphrase === undefined ? " (not encrypted)" : " (encrypted, AES-256-CBC)"}`);
      ctx.out(`  names:`);
      for (const s of sans) ctx.out(`    ${s.name}  (${s.reason})`);
      ctx.out(`  files:    ${files.key} (0600), ${files.csr}, ${files.summary}`);
    }
    if (bool(args, "yes") !== true) {
      if (!ctx.interactive) throw new CliError("not writing without confirmation: no terminal to ask on; pass --yes to write");
      if (!(await ctx.confirm("Write the key and the request?"))) {
        ctx.err("nothing written");
        return 1;
      }
    }

    const made = await createRequest(keyKind, subject, sans.map((s) => s.name), passphrase);
    const summary = {
      name: friendly,
      subject: subjectText,
      key: keyKind,
      encrypted: passphrase !== undefined,
      sans: sans.map((s) => s.name),
      publicKeySha256: made.publicKeySha256,
      created: ctx.now().toISOString(),
      keyFile: files.key,
      csrFile: files.csr,
    };
    try {
      mkdirSync(outDir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new CliError(`--out-dir: cannot create ${outDir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    writeNew(files.key, made.keyPem, 0o600, force);
    writeNew(files.csr, made.csrPem, 0o644, force);
    writeNew(files.summary, `${JSON.stringify(summary, null, 2)}\n`, 0o644, force);
    if (json) {
      ctx.out(JSON.stringify(summary, null, 2));
    } else {
      ctx.out(`wrote ${files.key}, ${files.csr} and ${files.summary}`);
      ctx.out("send the .csr to your certificate authority, then: passerelle cert import --cert <chain.pem> --key " + files.key);
    }
    return 0;
  },
};

function trustAnchors(caFile: string | undefined, ctx: CliContext): { anchors: X509Certificate[]; name: string } {
  const pems: string[] = [];
  let name: string;
  if (caFile !== undefined) {
    const path = resolve(ctx.cwd, caFile);
    pems.push(...(readBounded(path, "--ca", 4 * 1024 * 1024).match(PEM_CERT) ?? []));
    if (pems.length === 0) throw new CliError(`--ca: no PEM certificate in ${path}`);
    name = path;
  } else {
    pems.push(...rootCertificates);
    if (existsSync(SYSTEM_BUNDLE)) pems.push(...(readBounded(SYSTEM_BUNDLE, "system CA store", 4 * 1024 * 1024).match(PEM_CERT) ?? []));
    name = "the system's CA store (pass --ca for a private CA)";
  }
  const anchors: X509Certificate[] = [];
  for (const pem of pems.slice(0, 2000)) {
    try {
      anchors.push(new X509Certificate(pem));
    } catch (err) {
      if (caFile !== undefined) throw new CliError(`--ca: a certificate cannot be read: ${(err as Error).message}`);
    }
  }
  return { anchors, name };
}

const importCommand: Command = {
  name: "import",
  summary: "check a certificate chain and its key, then assign them to the edge (served on new connections, no restart)",
  options: {
    config: configOption,
    cert: { type: "string", placeholder: "FILE", description: "the certificate, then its issuers, PEM (required)" },
    key: { type: "string", placeholder: "FILE", description: "its private key, PEM (required)" },
    "passphrase-file": { type: "string", placeholder: "FILE", description: "the key's passphrase" },
    ca: { type: "string", placeholder: "FILE", description: "trusted CA(s), PEM (default: the system's store)" },
    "dry-run": { type: "boolean", description: "check only; write nothing" },
    json: { type: "boolean", description: "print the result as JSON" },
  },
  async run(args: ParsedArgs, ctx: CliContext): Promise<number> {
    if (args.positionals.length > 0) throw new CliError(`unexpected argument "${args.positionals[0]}"`);
    const certFile = str(args, "cert");
    const keyFile = str(args, "key");
    if (certFile === undefined) throw new CliError("--cert is required");
    if (keyFile === undefined) throw new CliError("--key is required");
    const config = loadConfig(str(args, "config"), ctx);
    const tls = config.edge.tls;
    if (tls === undefined) throw new CliError(`${config.source} has no edge.tls (certFile, keyFile): nowhere to assign the certificate`);
    const passphraseFile = str(args, "passphrase-file");
    const { anchors, name } = trustAnchors(str(args, "ca"), ctx);
    const checked = checkImport({
      chainPem: readBounded(resolve(ctx.cwd, certFile), "--cert", 1024 * 1024),
      keyPem: readBounded(resolve(ctx.cwd, keyFile), "--key", 64 * 1024),
      passphrase: passphraseFile === undefined ? undefined : readPassphrase(resolve(ctx.cwd, passphraseFile)),
      anchors,
      anchorsName: name,
      domains: config.domains.map((d) => d.xmpp),
      edgeFqdn: config.gateway.edgeFqdn,
      now: ctx.now(),
    });
    for (const w of checked.warnings) ctx.err(`warning: ${w}`);
    const target = { certFile: resolve(ctx.cwd, tls.certFile), keyFile: resolve(ctx.cwd, tls.keyFile) };
    const dryRun = bool(args, "dry-run") === true;
    if (!dryRun) {
      // The chain as given, leaf first; a self-signed root at the end is left out (peers have it or must not trust it from us).
      const served = checked.chain.filter((c, i) => i === 0 || c.issuer !== c.subject || !c.verify(c.publicKey));
      // Key first: the edge builds its context only when the key matches the certificate, so
      // between the two renames it keeps serving the previous pair. If the certificate cannot be
      // written, the previous key is put back.
      const previousKey = existsSync(target.keyFile) ? readBounded(target.keyFile, "edge.tls.keyFile", 1024 * 1024) : undefined;
      writeAtomic(target.keyFile, checked.keyPem, 0o600);
      try {
        writeAtomic(target.certFile, served.map((c) => c.toString()).join(""), 0o644);
      } catch (err) {
        if (previousKey !== undefined) writeAtomic(target.keyFile, previousKey, 0o600);
        throw err;
      }
    }
    const result = {
      assigned: !dryRun,
      subject: checked.leaf.subject.replace(/\n/g, ", "),
      serialNumber: checked.leaf.serialNumber,
      fingerprint256: checked.leaf.fingerprint256,
      validTo: new Date(checked.leaf.validTo).toISOString(),
      daysLeft: checked.daysLeft,
      names: checked.names,
      certFile: target.certFile,
      keyFile: target.keyFile,
      warnings: checked.warnings,
    };
    if (bool(args, "json") === true) {
      ctx.out(JSON.stringify(result, null, 2));
    } else {
      ctx.out(`certificate ${label(checked.leaf)} serial ${result.serialNumber}: chain, key, names and dates check out`);
      ctx.out(`  names: ${checked.names.join(", ")}`);
      ctx.out(`  valid until ${result.validTo} (${checked.daysLeft} days)`);
      ctx.out(dryRun ? "  dry run: nothing written" : `  assigned: ${target.certFile}, ${target.keyFile} (0600); the edge serves it on new connections within seconds`);
    }
    return 0;
  },
};

export const cert: CommandGroup = {
  name: "cert",
  summary: "make a key and CSR for the edge, or check and assign a signed certificate",
  commands: [request, importCommand],
};
