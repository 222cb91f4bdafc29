// The standard two-server federation: bind9 (.53) publishing SRV records, Prosody for
// prosody.test (.2) and ejabberd for ejabberd.test (.6), both trusting the test CA,
// in one fresh namespace. Used by the baseline e2e test and the baseline benchmark.
import { startBind9, xmppServerRecords } from "./bind9.ts";
import type { Bind9Server } from "./bind9.ts";
import { startEjabberd } from "./ejabberd.ts";
import type { EjabberdServer } from "./ejabberd.ts";
import { createNetns } from "./netns.ts";
import type { Netns } from "./netns.ts";
import { createSelfSigned, createTestCa } from "./pki.ts";
import type { CertificateFiles, TestCa } from "./pki.ts";
import { startProsody } from "./prosody.ts";
import type { ProsodyServer, S2sMode, XmppUser } from "./prosody.ts";
import type { Scope } from "./scope.ts";

export const ADDRESSES = {
  dns: "127.0.0.53",
  prosody: "127.0.0.2",
  gateway: "127.0.0.3",
  sipProxy: "127.0.0.4",
  sipAgents: "127.0.0.5",
  ejabberd: "127.0.0.6",
} as const;

export interface FederationPairOptions {
  /** Default "certificate". */
  readonly mode?: S2sMode;
  readonly prosodyUsers?: readonly XmppUser[];
  readonly ejabberdUsers?: readonly XmppUser[];
  readonly prosodyDomain?: string;
  readonly ejabberdDomain?: string;
  /** Log levels (benchmarks lower them). */
  readonly quiet?: boolean;
}

export interface FederationPair {
  readonly netns: Netns;
  readonly ca: TestCa;
  readonly dns: Bind9Server;
  readonly prosody: ProsodyServer;
  readonly ejabberd: EjabberdServer;
}

export async function startFederationPair(scope: Scope, options: FederationPairOptions = {}): Promise<FederationPair> {
  const mode = options.mode ?? "certificate";
  const prosodyDomain = options.prosodyDomain ?? "prosody.test";
  const ejabberdDomain = options.ejabberdDomain ?? "ejabberd.test";
  const netns = await createNetns(scope, {
    addresses: Object.values(ADDRESSES),
    nameserver: ADDRESSES.dns,
    label: "fed",
  });
  const ca = await createTestCa(scope.dir("pki"));
  // DNS-ID + SRV-ID only: ejabberd 23.01 crashes its s2s_in connection (badarg in
  // xmpp_stream_pkix:get_cert_domains/1) on a peer certificate carrying an id-on-xmppAddr
  // otherName, so the standard pair leaves it out. Tests of xmppAddr use `ca.issue` directly.
  const certificateFor = async (domain: string): Promise<CertificateFiles> =>
    mode === "dialback-tls" ? createSelfSigned(scope.dir("pki"), [domain]) : ca.issue({ domains: [domain], srvId: true });
  const [prosodyCert, ejabberdCert] = await Promise.all([certificateFor(prosodyDomain), certificateFor(ejabberdDomain)]);
  const dns = await startBind9(scope, {
    netns,
    address: ADDRESSES.dns,
    zones: [
      { domain: prosodyDomain, records: xmppServerRecords(prosodyDomain, ADDRESSES.prosody, { srvOnly: true }) },
      { domain: ejabberdDomain, records: xmppServerRecords(ejabberdDomain, ADDRESSES.ejabberd, { srvOnly: true }) },
    ],
  });
  // ejabberd takes seconds to boot: start it first and Prosody while it boots.
  const ejabberdStarting = startEjabberd(scope, {
    netns,
    domain: ejabberdDomain,
    address: ADDRESSES.ejabberd,
    mode,
    certificate: ejabberdCert,
    caFile: ca.certFile,
    users: options.ejabberdUsers ?? [],
    logLevel: options.quiet === true ? "warning" : "info",
  });
  const prosodyStarting = startProsody(scope, {
    netns,
    domain: prosodyDomain,
    address: ADDRESSES.prosody,
    mode,
    certificate: prosodyCert,
    caFile: ca.certFile,
    users: options.prosodyUsers ?? [],
    logLevel: options.quiet === true ? "warn" : "info",
  });
  const [ejabberd, prosody] = await Promise.all([ejabberdStarting, prosodyStarting]);
  return { netns, ca, dns, prosody, ejabberd };
}
