/** dialback-authority: dialback keys (XEP-0185), their verification, and dialing back to partners (XEP-0220). */
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
import { DialbackSecrets, TlsMaterialSource, type ReloadOutcome } from "./adapters/live-secrets.ts";
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
    // Our certificate (presented on verification streams) and the CAs to check partners with,
    // and the dialback secret: both re-read when their files change (no restart).
    const tlsSource = tls === undefined ? undefined : new TlsMaterialSource(tls);
    // A key made just before a rotation is checked within the stream establishment time: twice that is ample.
    const secrets = new DialbackSecrets(config.dialbackSecret, config.gateway.dialback.secretFile, 2 * config.gateway.timeouts.streamEstablishment * 1000);
    const reloads = new Counter({
      name: "passerelle_dialback_file_reloads_total",
      help: "Re-reads of the dialback secret and of our certificate after their files changed, by what and outcome (reloaded, failed: what is in force is kept)",
      labelNames: ["what", "outcome"],
      registers: [ctx.metrics],
    });
    const report = (what: string, r: ReloadOutcome) => {
      if (r.outcome === "unchanged") return;
      reloads.inc({ what, outcome: r.outcome });
      if (r.outcome === "reloaded") log.info({ what }, "reloaded after its file changed");
      else log.error({ what, reason: r.reason }, "file changed but cannot be used: what is in force is kept");
    };
    const fileTimer = setInterval(() => {
      report("dialback-secret", secrets.reloadIfChanged());
      if (tlsSource !== undefined) report("certificate", tlsSource.reloadIfChanged());
    }, 5_000);
    fileTimer.unref();
    ctx.onShutdown(() => clearInterval(fileTimer));

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
      tlsMaterial: (): TlsMaterial | undefined => tlsSource?.current(),
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
      const key = makeKey(secrets.current(), req);
      keysMade.inc();
      return { v: 1, key };
    });

    // XEP-0220 §2.3.1: we are the authoritative server; is this key ours?
    ctx.bus.reply<DialbackVerifyRequest, DialbackVerdict>(subjects.dialbackVerify, queues.dialbackAuthority, ["receiving", "originating", "streamId", "key"], async (req) => {
      // The current secret first; during a rotation's grace, the previous one too.
      let verdict = verifyKey(secrets.current(), req, localDomains);
      for (const previous of secrets.verifying().slice(1)) if (!verdict.valid) verdict = verifyKey(previous, req, localDomains).valid ? { v: 1, valid: true } : verdict;
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
