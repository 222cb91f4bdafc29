/**
 * XEP-0220 §2.1.2–§2.2 as the receiving server: a partner sent us <db:result/>; find its
 * authoritative server (dns-registrar), open a stream to it, send <db:verify/>, report the answer.
 * Bounded in time as a whole; every failure comes back as a verdict with a reason.
 */
import type { DialbackAuthorizeRequest, DialbackVerdict, ResolveReply } from "@passerelle/contracts";
import { S2SError, type Negotiation, type TlsMaterial, type VerifyOptions, type VerifyResult } from "@passerelle/s2s";
import type { StreamParserLimits } from "@passerelle/xmpp";
import { checkFields, plainDomain } from "../domain/dialback.ts";

export type AuthorizeOutcome = "valid" | "invalid" | "bad-request" | "dns" | "connect" | "tls" | "stream-error" | "protocol" | "timeout" | "error";

export interface AuthorizerDeps {
  resolve(domain: string, timeoutMs: number): Promise<ResolveReply>;
  verify(options: VerifyOptions): Promise<VerifyResult>;
  tlsPolicyFor(domain: string): Negotiation;
  localDomains: ReadonlySet<string>;
  tlsMaterial: () => TlsMaterial | undefined;
  limits: StreamParserLimits;
  /** The whole authorization, DNS included (config.gateway.timeouts.streamEstablishment). */
  budgetMs: number;
  connectMs?: number;
}

export interface Authorization {
  verdict: DialbackVerdict;
  outcome: AuthorizeOutcome;
  /** The certificate finding when the stream was TLS and the certificate had a problem. */
  certificateProblem?: string;
}

function kindToOutcome(err: unknown): AuthorizeOutcome {
  if (!(err instanceof S2SError)) return "error";
  switch (err.kind) {
    case "no-targets":
    case "connect":
      return "connect";
    case "tls":
    case "certificate":
      return "tls";
    case "stream-error":
      return "stream-error";
    case "protocol":
    case "auth":
      return "protocol";
    case "timeout":
      return "timeout";
    default:
      return "connect";
  }
}

export class Authorizer {
  constructor(private readonly deps: AuthorizerDeps) {}

  async authorize(req: DialbackAuthorizeRequest): Promise<Authorization> {
    const refuse = (outcome: AuthorizeOutcome, reason: string): Authorization => ({ verdict: { v: 1, valid: false, reason }, outcome });
    const problem = checkFields(req);
    if (problem !== undefined) return refuse("bad-request", problem);
    const receiving = plainDomain(req.receiving) ?? "";
    const originating = plainDomain(req.originating) ?? "";
    if (!this.deps.localDomains.has(receiving)) return refuse("bad-request", `${receiving} is not one of our domains`);
    if (this.deps.localDomains.has(originating)) return refuse("bad-request", `${originating} is one of our own domains`);
    const deadline = Date.now() + this.deps.budgetMs;
    const remaining = () => Math.max(1, deadline - Date.now());

    let resolved: ResolveReply;
    try {
      resolved = await this.deps.resolve(originating, Math.min(remaining(), 10_000));
    } catch (err) {
      return refuse("dns", `resolving ${originating} failed: ${(err as Error).message}`);
    }
    if (resolved.targets.length === 0) return refuse("dns", `no server found for ${originating}${resolved.error === undefined ? "" : `: ${resolved.error}`}`);

    const left = remaining();
    try {
      // XEP-0220 §2.2.1: connect to the originating domain's authoritative server and send db:verify.
      const verifying = this.deps.verify({
        localDomain: receiving,
        remoteDomain: originating,
        targets: resolved.targets.map((t) => ({ host: t.host, port: t.port, directTls: t.directTls })),
        tls: this.deps.tlsPolicyFor(originating),
        ...(this.deps.tlsMaterial() === undefined ? {} : { tlsMaterial: this.deps.tlsMaterial() }),
        // Dialback authenticates through DNS; over TLS a self-signed peer is reported, not refused.
        certificate: "report",
        timeouts: { connectMs: Math.min(this.deps.connectMs ?? 10_000, left), establishmentMs: left },
        limits: this.deps.limits,
        streamId: req.streamId,
        key: req.key,
      });
      // The whole authorization is bounded, however many targets the verification tries.
      let timer: NodeJS.Timeout | undefined;
      const result = await Promise.race([
        verifying,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new S2SError("timeout", `no answer within ${this.deps.budgetMs} ms`)), remaining());
        }),
      ]).finally(() => clearTimeout(timer));
      const certificateProblem = result.tls?.problem;
      if (result.valid) return { verdict: { v: 1, valid: true }, outcome: "valid", ...(certificateProblem === undefined ? {} : { certificateProblem }) };
      return { verdict: { v: 1, valid: false, reason: `${originating}'s authoritative server (${result.target}) says the key is invalid` }, outcome: "invalid" };
    } catch (err) {
      return refuse(kindToOutcome(err), `verifying with ${originating} failed: ${(err as Error).message}`);
    }
  }
}
