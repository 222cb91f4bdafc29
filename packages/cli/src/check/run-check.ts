/**
 * `passerelle check [partner-domain]`: walks what a federation needs, the way Lync's
 * Test-CsXmppIM and `prosodyctl check` do, one result per step with a hint on failure:
 *
 *   our SRV records     _xmpp-server._tcp.<each local domain>, as the configured resolver sees them
 *   our edge reachable  TCP to each of those targets (else the edge FQDN), from where the check runs
 *   our certificate     edge.tls.certFile: names every local domain (RFC 9525), dates, key
 *   partner entry       what the configuration allows the partner (TLS, SASL, dialback, proxy)
 *   partner DNS         its proxy FQDN, else XEP-0368 / RFC 6120 §3.2 SRV, else A/AAAA on 5269
 *   partner reachable   TCP to its targets, in order
 *   partner TLS         STARTTLS and what it offers before and after (RFC 6120 §5)
 *   partner certificate trusted and naming the partner's domain (RFC 9525, RFC 6120 §13.7.2)
 *   negotiation         the entry against the offer: TLS, SASL EXTERNAL, dialback
 *   SASL EXTERNAL       the partner accepts our certificate for our domain (XEP-0178)
 *   dialback round trip our key (XEP-0185, from gateway.dialback.secret) sent in <db:result/>;
 *                       the partner verifies it by dialling back our domain, i.e. our edge
 */
import { X509Certificate, createPrivateKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { connect as netConnect } from "node:net";
import { PartnerDirectory, type GatewayConfig, type Partner } from "@passerelle/config";
import { S2SError, certificateMatchesDomain, connectS2S, describeCertificateIdentities } from "@passerelle/s2s";
import { dialbackKey } from "@passerelle/xmpp";
import { CheckResolver, describeTargets, type SrvTarget } from "./dns.ts";
import { probeStream, type OfferedFeatures, type ProbeResult } from "./stream-probe.ts";

export type StepStatus = "pass" | "warn" | "fail" | "skip";

export interface StepResult {
  /** Short name of the step, e.g. "partner DNS". */
  step: string;
  status: StepStatus;
  /** What was found. */
  summary: string;
  /** What to do about it (failures and warnings). */
  hint?: string;
}

export interface CheckOptions {
  config: GatewayConfig;
  /** The partner domain to check; only our own side when absent. */
  partner?: string;
  /**
   * Where the partner entry came from when not the configuration file: the admin API's answer
   * (`entry` undefined: no such partner there), or why the API could not be asked (then the
   * configuration file's entry is used and the step warns).
   */
  partnerLookup?: { entry: Partner | undefined; from: string } | { error: string };
  /** "IP[:port]" of the DNS server to ask; default the configuration's dns.server, else the system's. */
  dnsServer?: string;
  /** Our domain that speaks to the partner (default: the first local domain). */
  from?: string;
  /** Bound of each network step. Default 10 s. */
  timeoutMs?: number;
  /** Days before expiry that warn. Default 30. */
  expiryWarningDays?: number;
  now?: () => Date;
}

/** What Passerelle assumes for a domain with no entry (the schema's defaults). */
const DEFAULT_ENTRY = { tls: "required", sasl: "optional", dialback: true } as const;
const LIMITS = { maxStanzaBytes: 65536, maxDepth: 16, maxAttributesPerElement: 32, maxHeaderBytes: 4096 };
const DAY_MS = 86_400_000;

interface Target {
  host: string;
  port: number;
  /** XEP-0368: TLS from the first byte. */
  directTls?: boolean;
}

const pass = (step: string, summary: string): StepResult => ({ step, status: "pass", summary });
const warn = (step: string, summary: string, hint: string): StepResult => ({ step, status: "warn", summary, hint });
const fail = (step: string, summary: string, hint: string): StepResult => ({ step, status: "fail", summary, hint });
const skip = (step: string, summary: string): StepResult => ({ step, status: "skip", summary });
const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

function readPem(path: string): string {
  const text = readFileSync(path, "utf8");
  if (text.length > 1024 * 1024) throw new Error(`${path} is larger than 1 MiB`);
  return text;
}

/** Runs every step in order; each result is yielded as soon as it is known. */
export async function* runCheck(o: CheckOptions): AsyncGenerator<StepResult> {
  const config = o.config;
  const now = o.now ?? (() => new Date());
  const timeoutMs = o.timeoutMs ?? 10_000;
  const resolver = new CheckResolver(o.dnsServer ?? config.dns.server, Math.min(timeoutMs, 3000));
  const edgeFqdn = config.gateway.edgeFqdn.toLowerCase();
  const edgePort = config.edge.listen.port;

  // Our SRV records, as the world sees them (RFC 6120 §3.2.1).
  const ourTargets = new Map<string, Target>();
  for (const { xmpp: domain } of config.domains) {
    const step = `our SRV records (${domain})`;
    const name = `_xmpp-server._tcp.${domain}`;
    const wanted = `${edgeFqdn}:${edgePort}`;
    const publishHint = `publish "${name}. SRV 0 5 ${edgePort} ${edgeFqdn}." in your DNS (or set dns.publish and let the dns-registrar do it)`;
    try {
      const records = await resolver.srv(name);
      for (const r of records.slice(0, 8)) if (r.host !== "") ourTargets.set(`${r.host.toLowerCase()}:${r.port}`, { host: r.host, port: r.port });
      if (records.length === 0) {
        yield fail(step, `${name}: no SRV record (asked ${resolver.label})`, `partners cannot find your edge; ${publishHint}`);
      } else if (records.length === 1 && records[0]?.host === "") {
        yield fail(step, `${name}: "." (no service)`, publishHint);
      } else if (records.some((r) => `${r.host.toLowerCase()}:${r.port}` === wanted)) {
        yield pass(step, `${name} → ${describeTargets(records)}`);
      } else {
        yield warn(step, `${name} → ${describeTargets(records)}; none is the edge (${wanted})`, `point the record at ${wanted} unless a load balancer or proxy stands in front of the edge`);
      }
    } catch (err) {
      yield fail(step, `${name}: lookup failed (${message(err)}, asked ${resolver.label})`, "check dns.server and that the DNS server answers");
    }
  }

  // Our edge, where partners are sent: each SRV target (else the edge FQDN) accepts TCP, from here.
  {
    const step = "our edge reachable";
    const targets = ourTargets.size > 0 ? [...ourTargets.values()].slice(0, 8) : [{ host: edgeFqdn, port: edgePort }];
    const reachedOurs: string[] = [];
    const problems: string[] = [];
    for (const t of targets) {
      let addresses: string[] = [];
      try {
        addresses = await resolver.addresses(t.host);
      } catch (err) {
        problems.push(`${t.host}: ${message(err)}`);
        continue;
      }
      if (addresses.length === 0) problems.push(`${t.host}: no A/AAAA record`);
      for (const address of addresses.slice(0, 4)) {
        const error = await tcpProbe(address, t.port, Math.min(timeoutMs, 5000));
        if (error === undefined) reachedOurs.push(`${t.host} (${address}):${t.port}`);
        else problems.push(`${t.host} (${address}):${t.port}: ${error}`);
      }
    }
    const hint = `partners connect there: start the edge listener, open TCP ${targets[0]?.port ?? edgePort} inbound, and give ${targets[0]?.host ?? edgeFqdn} an A/AAAA record`;
    if (reachedOurs.length === 0) yield fail(step, `nothing answers: ${problems.join("; ")}`, hint);
    else if (problems.length > 0) yield warn(step, `${reachedOurs.join(", ")} answer; ${problems.join("; ")}`, hint);
    else yield pass(step, `${reachedOurs.join(", ")} ${reachedOurs.length === 1 ? "accepts" : "accept"} connections (seen from here)`);
  }

  // Our certificate: names every local domain (RFC 9525 via RFC 6120 §13.7.2), dates, key.
  const tlsFiles = config.edge.tls;
  if (tlsFiles === undefined) {
    yield warn("our certificate", "no certificate configured (edge.tls): STARTTLS is not offered", "partners that require TLS cannot federate; request one with `passerelle cert request` and set edge.tls");
  } else {
    try {
      const cert = new X509Certificate(readPem(tlsFiles.certFile));
      const missing = config.domains.map((d) => d.xmpp).filter((d) => !certificateMatchesDomain(cert, d));
      const notAfter = new Date(cert.validTo);
      const notBefore = new Date(cert.validFrom);
      const daysLeft = Math.floor((notAfter.getTime() - now().getTime()) / DAY_MS);
      let keyProblem: string | undefined;
      try {
        if (!cert.checkPrivateKey(createPrivateKey(readPem(tlsFiles.keyFile)))) keyProblem = `${tlsFiles.keyFile} is not the key of this certificate`;
      } catch (err) {
        keyProblem = `cannot read the key ${tlsFiles.keyFile}: ${message(err)}`;
      }
      const names = describeCertificateIdentities(cert);
      if (missing.length > 0) {
        yield fail("our certificate", `${tlsFiles.certFile} does not name ${missing.join(", ")} (it names ${names})`, "request a certificate with every local domain as a SAN (`passerelle cert request`), then `passerelle cert import`");
      } else if (keyProblem !== undefined) {
        yield fail("our certificate", keyProblem, "edge.tls.keyFile must hold the private key of edge.tls.certFile");
      } else if (notAfter.getTime() <= now().getTime()) {
        yield fail("our certificate", `expired on ${notAfter.toISOString()}`, "renew it and import the new one (`passerelle cert import`); the edge serves it without a restart");
      } else if (notBefore.getTime() > now().getTime()) {
        yield fail("our certificate", `not valid before ${notBefore.toISOString()}`, "check the clock of this machine and of the CA");
      } else if (daysLeft < (o.expiryWarningDays ?? 30)) {
        yield warn("our certificate", `names ${names}; expires in ${daysLeft} days (${notAfter.toISOString()})`, "renew it soon (`passerelle cert request`, then `passerelle cert import`)");
      } else {
        yield pass("our certificate", `names every local domain (${names}); expires in ${daysLeft} days`);
      }
    } catch (err) {
      yield fail("our certificate", `cannot read ${tlsFiles.certFile}: ${message(err)}`, "edge.tls.certFile must be a PEM certificate (chain)");
    }
  }

  if (o.partner === undefined) return;
  const partner = o.partner.toLowerCase().replace(/\.$/, "");
  const from = o.from ?? config.domains[0]?.xmpp ?? edgeFqdn;

  // What the partner entry allows: the admin API's when asked, else the configuration file's.
  const lookup = o.partnerLookup;
  const fromApi = lookup !== undefined && "from" in lookup;
  const entry = fromApi ? lookup.entry : new PartnerDirectory(config.partners).find(partner);
  const source = fromApi ? lookup.from : `the configuration file${lookup === undefined ? "" : ` (the admin API could not be asked: ${lookup.error})`}`;
  const allowed = entry ?? DEFAULT_ENTRY;
  if (entry === undefined) {
    yield fail(
      "partner entry",
      `${partner} is not a partner in ${source}: its streams are refused and nothing is sent to it (the steps below assume TLS required, SASL optional, dialback allowed)`,
      `add it: \`passerelle partner new ${partner} --type federated\`${fromApi ? "" : " (or under partners: in the configuration)"}`,
    );
  } else {
    const proxy = entry.proxyFqdn === undefined ? "" : `, proxy ${entry.proxyFqdn}:${entry.proxyPort}`;
    const summary = `${entry.domain} (${entry.type}): TLS ${entry.tls}, SASL ${entry.sasl}, dialback ${entry.dialback ? "allowed" : "not allowed"}${proxy}, from ${source}`;
    yield lookup !== undefined && !fromApi
      ? warn("partner entry", summary, "check --url / PASSERELLE_ADMIN_URL and the token: the entry in force is the policy service's, which may differ from the file")
      : pass("partner entry", summary);
  }

  // Where the partner's server is: proxy FQDN, else SRV, else the domain on 5269.
  let targets: Target[] = [];
  const dnsStep = "partner DNS";
  try {
    if (entry?.proxyFqdn !== undefined) {
      targets = [{ host: entry.proxyFqdn, port: entry.proxyPort }];
      yield pass(dnsStep, `proxy FQDN ${entry.proxyFqdn}:${entry.proxyPort} from the partner entry (DNS SRV not used)`);
    } else {
      // XEP-0368 first (as the edge connects), unless the entry says no TLS; then RFC 6120 §3.2.1.
      const directRecords = (await resolver.srv(`_xmpps-server._tcp.${partner}`)).filter((r) => r.host !== "");
      const direct = allowed.tls === "not-supported" ? [] : directRecords;
      const records: SrvTarget[] = await resolver.srv(`_xmpp-server._tcp.${partner}`);
      const note = directRecords.length > 0 ? `; direct TLS (XEP-0368): ${describeTargets(directRecords)}${direct.length === 0 ? " (not used: TLS not supported by the entry)" : ", tried first"}` : "";
      const noService = records.length === 1 && records[0]?.host === "";
      targets = direct.map((r) => ({ host: r.host, port: r.port, directTls: true }));
      if (noService && targets.length === 0) {
        yield fail(dnsStep, `_xmpp-server._tcp.${partner} is "." : ${partner} says it offers no XMPP federation`, `ask ${partner}'s admin whether they federate, or set proxyFqdn in the partner entry`);
      } else if (records.length > 0 || targets.length > 0) {
        if (!noService) targets.push(...records.map((r) => ({ host: r.host, port: r.port })));
        yield pass(dnsStep, `_xmpp-server._tcp.${partner} → ${records.length === 0 ? "no record" : noService ? '"." (no service)' : describeTargets(records)}${note}`);
      } else {
        const fallback = await resolver.addresses(partner);
        if (fallback.length > 0) {
          targets = [{ host: partner, port: 5269 }];
          yield warn(dnsStep, `no _xmpp-server._tcp.${partner} SRV record; falling back to ${partner} (${fallback.join(", ")}) on 5269 (RFC 6120 §3.2.2)${note}`, `ask ${partner}'s admin to publish an SRV record, or set proxyFqdn in the partner entry`);
        } else {
          yield fail(
            dnsStep,
            `no _xmpp-server._tcp.${partner} SRV record and no A/AAAA record for ${partner} (asked ${resolver.label})${note}`,
            `ask ${partner}'s admin to publish "_xmpp-server._tcp.${partner}. SRV 0 5 5269 <their server>.", or set proxyFqdn/proxyPort in the partner entry`,
          );
        }
      }
    }
  } catch (err) {
    yield fail(dnsStep, `lookup failed: ${message(err)} (asked ${resolver.label})`, "check dns.server and that the DNS server answers");
  }
  const later = ["partner reachable", "partner TLS", "partner certificate", "negotiation", "SASL EXTERNAL", "dialback round trip"];
  if (targets.length === 0) {
    for (const step of later) yield skip(step, "no address for the partner");
    return;
  }

  // TCP to each target, in order, until one answers (RFC 6120 §3.2.1 step 8).
  let reached: { target: Target; address: string } | undefined;
  const failures: string[] = [];
  for (const target of targets.slice(0, 16)) {
    let addresses: string[];
    try {
      addresses = await resolver.addresses(target.host);
    } catch (err) {
      failures.push(`${target.host}: ${message(err)}`);
      continue;
    }
    if (addresses.length === 0) failures.push(`${target.host}: no A/AAAA record`);
    for (const address of addresses.slice(0, 4)) {
      const error = await tcpProbe(address, target.port, Math.min(timeoutMs, 5000));
      if (error === undefined) {
        reached = { target, address };
        break;
      }
      failures.push(`${target.host} (${address}):${target.port}: ${error}`);
    }
    if (reached !== undefined) break;
  }
  if (reached === undefined) {
    yield fail("partner reachable", `no target answered: ${failures.join("; ")}`, `a firewall (yours, outbound to TCP ${targets[0]?.port ?? 5269}, or theirs) or a server that is down; try from the edge's network`);
    for (const step of later.slice(1)) yield skip(step, "the partner is not reachable");
    return;
  }
  yield pass("partner reachable", `${reached.target.host} (${reached.address}) port ${reached.target.port}${reached.target.directTls === true ? " (direct TLS)" : ""}${failures.length > 0 ? `, after: ${failures.join("; ")}` : ""}`);

  // STARTTLS and what the partner offers.
  let ca: string | undefined;
  let ourCert: { cert: string; key: string } | undefined;
  try {
    if (tlsFiles?.caFile !== undefined) ca = readPem(tlsFiles.caFile);
    if (tlsFiles !== undefined) ourCert = { cert: readPem(tlsFiles.certFile), key: readPem(tlsFiles.keyFile) };
  } catch {
    // Reported by "our certificate" above; the probe goes on without them.
  }
  let probe: ProbeResult | undefined;
  try {
    probe = await probeStream({
      host: reached.address,
      port: reached.target.port,
      directTls: reached.target.directTls === true,
      localDomain: from,
      remoteDomain: partner,
      starttls: allowed.tls !== "not-supported",
      ...(ca === undefined ? {} : { ca }),
      ...(ourCert ?? {}),
      timeoutMs,
    });
  } catch (err) {
    yield fail("partner TLS", `the stream could not be opened: ${message(err)}`, `is ${reached.target.host}:${reached.target.port} an XMPP server-to-server port for ${partner}?`);
  }
  if (probe !== undefined) {
    const offered = describeOffer(probe.before);
    if (probe.directTls && probe.tls !== undefined) {
      yield pass("partner TLS", `direct TLS (XEP-0368), ${probe.tls.protocol}; offers ${offered}`);
    } else if (probe.tls !== undefined) {
      const afterText = probe.tls.error === undefined ? `; then offers ${describeOffer(probe.tls.after)}` : `; then the stream failed: ${probe.tls.error}`;
      yield pass("partner TLS", `STARTTLS ${probe.before.starttlsRequired ? "required" : "offered"} (before TLS: ${offered}), ${probe.tls.protocol}${afterText}`);
    } else if (probe.before.starttls) {
      yield warn("partner TLS", `STARTTLS offered (${offered}) but the partner entry says TLS not-supported, so it was not tried`, "set tls: optional or required in the partner entry to protect the stream");
    } else if (allowed.tls === "required") {
      yield fail("partner TLS", `no STARTTLS offered (${offered})`, `the partner entry requires TLS: ask ${partner}'s admin to enable TLS on s2s, or set tls: optional (not recommended)`);
    } else {
      yield warn("partner TLS", `no STARTTLS offered (${offered}): the stream would be in clear text`, `ask ${partner}'s admin to enable TLS on s2s`);
    }
  }

  // The partner's certificate (RFC 9525 identity; chain against edge.tls.caFile or the system CAs).
  const certificate = probe?.tls?.certificate;
  if (probe?.tls === undefined) {
    yield skip("partner certificate", "no TLS");
  } else if (certificate === undefined) {
    yield fail("partner certificate", "the partner presented no certificate", `ask ${partner}'s admin to configure a certificate for ${partner}`);
  } else {
    const offersDialback = (probe.tls.error === undefined && probe.tls.after.dialback) || probe.before.dialback;
    const dialbackSaves = allowed.dialback && allowed.sasl !== "required" && offersDialback;
    if (!certificate.namesDomain) {
      yield fail(
        "partner certificate",
        `does not name ${partner} (it names ${certificate.identities})${certificate.trusted ? "" : `; not trusted: ${certificate.trustError ?? ""}`}`,
        `${partner}'s certificate must carry ${partner} as a DNS name (or SRV-ID _xmpp-server.${partner}); ask their admin to fix it${dialbackSaves ? " — meanwhile dialback can still authenticate them, without certificate-based trust" : ""}`,
      );
    } else if (certificate.expired) {
      yield fail("partner certificate", `expired on ${certificate.validTo}`, `ask ${partner}'s admin to renew it`);
    } else if (!certificate.trusted) {
      const summary = `names ${partner} but is not trusted (${certificate.trustError ?? "unknown"})`;
      const hint = `add their CA to edge.tls.caFile, or ask them for a certificate from a public CA`;
      yield dialbackSaves ? warn("partner certificate", `${summary}; dialback can still authenticate them`, hint) : fail("partner certificate", summary, `${hint}; SASL EXTERNAL needs a trusted certificate`);
    } else {
      yield pass("partner certificate", `trusted and names ${partner} (${certificate.identities}); valid until ${certificate.validTo}`);
    }
  }

  // What the entry allows against what the partner offers.
  let saslUsable = false;
  let dialbackOffered = false;
  if (probe === undefined) {
    yield skip("negotiation", "the partner's features are unknown");
  } else {
    const final = probe.tls !== undefined && probe.tls.error === undefined ? probe.tls.after : probe.before;
    const external = probe.tls !== undefined && final.saslMechanisms.includes("EXTERNAL");
    saslUsable = allowed.sasl !== "not-supported" && external && ourCert !== undefined;
    dialbackOffered = final.dialback;
    const dialback = allowed.dialback && final.dialback;
    if (allowed.tls === "not-supported" && probe.before.starttlsRequired) {
      yield fail("negotiation", "the partner requires TLS; the partner entry says TLS not-supported", "set tls: optional or required in the partner entry");
    } else if (allowed.sasl === "required" && !saslUsable) {
      yield fail(
        "negotiation",
        `SASL EXTERNAL is required by the partner entry but ${probe.tls === undefined ? "TLS is not negotiated" : external ? "we have no certificate (edge.tls)" : "the partner does not offer it"}`,
        `set sasl: optional in the partner entry, or ask ${partner}'s admin to accept certificates for s2s (SASL EXTERNAL)`,
      );
    } else if (!saslUsable && !dialback) {
      const why = [
        allowed.sasl === "not-supported" ? "SASL not supported by the entry" : external ? "no certificate of ours" : "no SASL EXTERNAL offered",
        !allowed.dialback ? "dialback not allowed by the entry" : "no dialback offered",
      ].join(", ");
      yield fail("negotiation", `no authentication method in common (${why})`, `allow dialback in the partner entry, or ask ${partner}'s admin to offer SASL EXTERNAL (and trust our CA) or dialback`);
    } else {
      const methods = [saslUsable ? "SASL EXTERNAL" : undefined, dialback ? "dialback" : undefined].filter((m) => m !== undefined);
      yield pass("negotiation", `TLS ${probe.tls === undefined ? "none" : probe.tls.protocol}; usable: ${methods.join(", then ")}`);
    }
  }

  const common = {
    localDomain: from,
    remoteDomain: partner,
    targets: [{ host: reached.address, port: reached.target.port, directTls: reached.target.directTls === true }],
    tls: allowed.tls,
    ...(ca === undefined && ourCert === undefined ? {} : { tlsMaterial: { ...(ca === undefined ? {} : { ca }), ...(ourCert ?? {}) } }),
    timeouts: { connectMs: Math.min(timeoutMs, 5000), establishmentMs: timeoutMs },
    limits: LIMITS,
  };

  // SASL EXTERNAL (XEP-0178): does the partner accept our certificate for our domain?
  if (!saslUsable) {
    yield skip("SASL EXTERNAL", allowed.sasl === "not-supported" ? "not supported by the partner entry" : ourCert === undefined ? "we have no certificate (edge.tls)" : "not offered by the partner");
  } else {
    try {
      const connection = await connectS2S({ ...common, sasl: "required", dialback: false, certificate: allowed.dialback ? "report" : "require" });
      await connection.close(2000).catch(() => connection.destroy());
      yield pass("SASL EXTERNAL", `${partner} accepted our certificate for ${from} and the stream`);
    } catch (err) {
      const hint =
        err instanceof S2SError && err.kind === "certificate"
          ? `we do not trust ${partner}'s certificate (see "partner certificate"): SASL EXTERNAL without dialback needs a certificate we trust that names ${partner}`
          : `${partner} does not accept our certificate for ${from}: it must trust our CA and the certificate must name ${from}`;
      yield allowed.dialback && dialbackOffered
        ? warn("SASL EXTERNAL", `${message(err)}; dialback would be used instead`, hint)
        : fail("SASL EXTERNAL", message(err), `${hint}; or allow dialback`);
    }
  }

  // Dialback round trip: the partner verifies our key by dialling back our domain (our edge).
  if (!allowed.dialback) {
    yield skip("dialback round trip", "dialback is not allowed for this partner");
    return;
  }
  if (probe !== undefined && !dialbackOffered) {
    yield skip("dialback round trip", `${partner} does not offer dialback`);
    return;
  }
  try {
    const connection = await connectS2S({
      ...common,
      sasl: "not-supported",
      dialback: true,
      certificate: "report",
      dialbackKey: async (ctx) => dialbackKey(config.dialbackSecret, ctx.receiving, ctx.originating, ctx.streamId),
    });
    await connection.close(2000).catch(() => connection.destroy());
    yield pass("dialback round trip", `${partner} verified our key for ${from} by dialling back to our SRV target and accepted the stream`);
  } catch (err) {
    // Refused, or no verdict at all: the partner could not complete its dial-back to us.
    const refused = err instanceof S2SError && (err.kind === "auth" || /dialback result/.test(err.message));
    yield fail(
      "dialback round trip",
      message(err),
      refused
        ? `${partner} could not verify our key: it dials back to _xmpp-server._tcp.${from} (${edgeFqdn}:${edgePort}); is the edge running and reachable from ${partner} there, and is gateway.dialback.secret the secret the dialback authority uses?`
        : `the stream to ${partner} did not get as far as dialback; see the steps above`,
    );
  }
}

function describeOffer(f: OfferedFeatures): string {
  const parts = [f.starttls ? (f.starttlsRequired ? "STARTTLS (required)" : "STARTTLS") : undefined, f.saslMechanisms.length > 0 ? `SASL ${f.saslMechanisms.join("/")}` : undefined, f.dialback ? "dialback" : undefined].filter(
    (p) => p !== undefined,
  );
  return parts.length === 0 ? "nothing" : parts.join(", ");
}

/** Undefined when a TCP connection opens within the bound; else why not. */
function tcpProbe(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = netConnect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(`no answer within ${timeoutMs} ms`);
    }, timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(undefined);
    });
    socket.once("error", (err) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(err.message);
    });
  });
}

/** One line per result (`PASS  step  summary`), the hint indented under it. */
export function formatStep(r: StepResult): string[] {
  const label = { pass: "PASS", warn: "WARN", fail: "FAIL", skip: "SKIP" }[r.status];
  const lines = [`${label}  ${r.step}: ${r.summary}`];
  if (r.hint !== undefined && r.status !== "pass") lines.push(`      hint: ${r.hint}`);
  return lines;
}
