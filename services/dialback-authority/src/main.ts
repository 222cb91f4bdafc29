/** dialback-authority: dialback keys (XEP-0185), their verification, and dialing back to partners (XEP-0220). */
import { readFileSync } from "node:fs";
import {
  queues,
  subjects,
  type DialbackAuthorizeRequest,
  type DialbackKeyReply,
  type DialbackKeyRequest,
  type DialbackVerdict,
  type DialbackVerifyRequest,
  type ResolveReply,
  type ResolveRequest,
} from "@passerelle/contracts";
import { LivePartners, runService } from "@passerelle/runtime";
import { verifyDialback, type TlsMaterial } from "@passerelle/s2s";
import { Counter, Histogram } from "@passerelle/telemetry";
import { Authorizer } from "./adapters/authorizer.ts";
import { makeKey, verifyKey } from "./domain/dialback.ts";
import { verifyTlsPolicy } from "./domain/verify-policy.ts";

await runService({
  name: "dialback-authority",
  async start(ctx) {
    const { config, log } = ctx;
    const localDomains = new Set(config.domains.map((d) => d.xmpp));
    // The partner store's entries, live (policy announces each change).
    const partners = new LivePartners({ bus: ctx.bus, config, log, metrics: ctx.metrics });
    await partners.start();
    ctx.onShutdown(() => partners.stop());
    const tls = config.edge.tls;
    // Our certificate (presented on verification streams) and the CAs to check partners with.
    const tlsMaterial: TlsMaterial | undefined =
      tls === undefined
        ? undefined
        : { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile), ...(tls.caFile === undefined ? {} : { ca: readFileSync(tls.caFile) }) };

    const keysMade = new Counter({ name: "passerelle_dialback_keys_total", help: "Dialback keys made (XEP-0185)", registers: [ctx.metrics] });
    const verifications = new Counter({
      name: "passerelle_dialback_verifications_total",
      help: "db:verify requests answered as authoritative server, by outcome (valid, invalid)",
      labelNames: ["outcome"],
      registers: [ctx.metrics],
    });
    const authorizations = new Counter({
      name: "passerelle_dialback_authorizations_total",
      help: "Dial-backs to partners' authoritative servers, by outcome",
      labelNames: ["outcome"],
      registers: [ctx.metrics],
    });
    const authorizationSeconds = new Histogram({
      name: "passerelle_dialback_authorization_seconds",
      help: "Time to dial back and get a verdict, by outcome",
      labelNames: ["outcome"],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [ctx.metrics],
    });

    const authorizer = new Authorizer({
      resolve: (domain, timeoutMs) => ctx.bus.request<ResolveRequest, ResolveReply>(subjects.dnsResolve, { v: 1, domain }, ["targets"], timeoutMs),
      verify: verifyDialback,
      tlsPolicyFor: (domain) => verifyTlsPolicy(partners.current().find(domain)),
      localDomains,
      tlsMaterial: () => tlsMaterial,
      limits: {
        maxStanzaBytes: config.gateway.limits.maxStanzaBytes,
        maxDepth: config.gateway.limits.maxDepth,
        maxAttributesPerElement: config.gateway.limits.maxAttributesPerElement,
        maxHeaderBytes: 8192,
      },
      budgetMs: config.gateway.timeouts.streamEstablishment * 1000,
    });

    // XEP-0185: a key for a stream we originate. Any replica answers: the secret is shared.
    ctx.bus.reply<DialbackKeyRequest, DialbackKeyReply>(subjects.dialbackKey, queues.dialbackAuthority, ["receiving", "originating", "streamId"], async (req) => {
      const key = makeKey(config.dialbackSecret, req);
      keysMade.inc();
      return { v: 1, key };
    });

    // XEP-0220 §2.3.1: we are the authoritative server; is this key ours?
    ctx.bus.reply<DialbackVerifyRequest, DialbackVerdict>(subjects.dialbackVerify, queues.dialbackAuthority, ["receiving", "originating", "streamId", "key"], async (req) => {
      const verdict = verifyKey(config.dialbackSecret, req, localDomains);
      verifications.inc({ outcome: verdict.valid ? "valid" : "invalid" });
      if (!verdict.valid) log.info({ receiving: req.receiving, originating: req.originating, reason: verdict.reason }, "dialback key refused");
      return verdict;
    });

    // XEP-0220 §2.2: we are the receiving server; dial back to the partner's authoritative server.
    ctx.bus.reply<DialbackAuthorizeRequest, DialbackVerdict>(subjects.dialbackAuthorize, queues.dialbackAuthority, ["receiving", "originating", "streamId", "key"], async (req) => {
      const started = process.hrtime.bigint();
      const result = await authorizer.authorize(req).catch((err: unknown) => ({
        verdict: { v: 1 as const, valid: false, reason: `internal error: ${(err as Error).message}` },
        outcome: "error" as const,
        certificateProblem: undefined,
      }));
      authorizations.inc({ outcome: result.outcome });
      authorizationSeconds.observe({ outcome: result.outcome }, Number(process.hrtime.bigint() - started) / 1e9);
      const fields = { originating: req.originating, receiving: req.receiving, outcome: result.outcome };
      if (result.verdict.valid) log.info({ ...fields, certificate: result.certificateProblem }, "dialback verified");
      else log.warn({ ...fields, reason: result.verdict.reason }, "dialback not verified");
      return result.verdict;
    });

    log.info({ domains: [...localDomains], partners: partners.current().all().length, revision: partners.revision, queue: queues.dialbackAuthority }, "dialback-authority ready");
  },
});
