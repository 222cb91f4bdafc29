/** edge-listener: inbound server-to-server streams on 5269 (STARTTLS) and optionally 5270 (XEP-0368 direct TLS), SASL EXTERNAL, dialback. */
import { streamNoLongerAllowed } from "@passerelle/config";
import {
  queues,
  subjects,
  type DialbackKeyReply,
  type DialbackKeyRequest,
  type OutboundStanza,
  type ResolveReply,
  type ResolveRequest,
  type DialbackAuthorizeRequest,
  type DialbackVerdict,
  type DialbackVerifyRequest,
} from "@passerelle/contracts";
import { ensureInboundStream, LivePartners, runService } from "@passerelle/runtime";
import { serialize, StreamError } from "@passerelle/xmpp";
import { OutboundDeliveries } from "./adapters/outbound-deliveries.ts";
import { OutboundPool } from "./adapters/outbound-pool.ts";
import { S2SListener } from "./adapters/s2s-listener.ts";
import type { InboundStream } from "./protocol/inbound-stream.ts";
import { SessionRegistry } from "./adapters/session-registry.ts";
import { StanzaPublisher } from "./adapters/stanza-publisher.ts";
import { TlsContextStore } from "./adapters/tls-context.ts";

await runService({
  name: "edge-listener",
  async start(ctx) {
    const { config, log } = ctx;
    // The partner store's entries, live: each change applies to the next stream and stanza, and
    // open streams the changed entry no longer allows are closed (below).
    const partners = new LivePartners({ bus: ctx.bus, config, log, metrics: ctx.metrics });
    await partners.start();
    ctx.onShutdown(() => partners.stop());
    const localDomains = new Set(config.domains.map((d) => d.xmpp));
    const tls = config.edge.tls === undefined ? undefined : new TlsContextStore(config.edge.tls, log, ctx.metrics);
    if (tls === undefined) {
      log.warn("no certificate configured (edge.tls): STARTTLS is not offered, partners that require TLS cannot connect");
    } else {
      tls.watch();
      ctx.onShutdown(() => tls.stop());
    }

    await ensureInboundStream(ctx.nats);
    const publisher = new StanzaPublisher(ctx.nats, log, ctx.metrics);
    // Also counts the connection limits across every replica (partner entry and gateway-wide).
    const sessions = new SessionRegistry(ctx.redis, ctx.replicaId, log, { metrics: ctx.metrics });
    sessions.start();
    const gatewayLimit = config.gateway.limits.connectionLimit;
    // A stream's id changes when it restarts after SASL: it is counted under its id at the first
    // authentication, and released under that id when the connection closes.
    const countedAs = new Map<InboundStream, string>();
    let sequence = 0;
    const dialbackTimeoutMs = config.gateway.timeouts.streamEstablishment * 1000;

    const limits = {
      maxStanzaBytes: config.gateway.limits.maxStanzaBytes,
      maxDepth: config.gateway.limits.maxDepth,
      maxAttributesPerElement: config.gateway.limits.maxAttributesPerElement,
      maxHeaderBytes: 4096,
    };
    const listener = new S2SListener({
      host: config.edge.listen.host,
      port: Number(process.env.PASSERELLE_EDGE_PORT ?? config.edge.listen.port),
      connectionLimit: config.gateway.limits.connectionLimit,
      establishmentTimeoutMs: config.gateway.timeouts.streamEstablishment * 1000,
      inactivityTimeoutMs: config.gateway.timeouts.streamInactivity * 1000,
      stanzasPerSecond: config.gateway.limits.stanzasPerSecondPerStream,
      tls,
      directTls:
        config.edge.directTls === undefined
          ? undefined
          : { host: config.edge.directTls.host, port: Number(process.env.PASSERELLE_EDGE_DIRECT_TLS_PORT ?? config.edge.directTls.port) },
      log,
      metrics: ctx.metrics,
      saturated: () => publisher.saturated,
      streamDeps: {
        localDomains,
        findPartner: (domain) => partners.current().find(domain),
        limits: { ...limits, preAuthBytes: config.gateway.limits.preAuthBytes },
        authorizeDialback: (req) =>
          ctx.bus.request<DialbackAuthorizeRequest, DialbackVerdict>(subjects.dialbackAuthorize, { v: 1, ...req }, ["valid"], dialbackTimeoutMs),
        verifyDialback: (req) =>
          ctx.bus.request<DialbackVerifyRequest, DialbackVerdict>(subjects.dialbackVerify, { v: 1, ...req }, ["valid"], 5000),
        accept: (stanza) => {
          sequence++;
          const id = `${ctx.replicaId}/${stanza.streamId}/${sequence}`;
          publisher.publish(
            {
              v: 1,
              id,
              receivedAt: Date.now(),
              edge: ctx.replicaId,
              streamId: stanza.streamId,
              partnerDomain: stanza.partnerDomain,
              localDomain: stanza.localDomain,
              kind: stanza.kind,
              ...(stanza.type === undefined ? {} : { type: stanza.type }),
              from: stanza.from,
              to: stanza.to,
              xml: serialize(stanza.element),
            },
            (reason) => log.error({ id, reason }, "an accepted stanza could not be queued"),
            () => undefined,
          );
        },
      },
      onAuthenticated: async (stream, info) => {
        const partner = partners.current().find(info.domain);
        const key = countedAs.get(stream) ?? info.streamId;
        countedAs.set(stream, key);
        sessions.add(key, { domains: [info.domain], method: info.method, tls: info.tls });
        // The entry may have changed while the stream negotiated under the previous one.
        const changed = streamNoLongerAllowed(info.domain, partner, { method: info.method, tls: info.tls });
        if (changed !== undefined) return new StreamError("policy-violation", changed);
        if (partner === undefined) return undefined;
        // Lync's per-partner limit and the gateway's, counted across every edge replica.
        const verdict = await sessions.acquire("inbound", info.domain, key, { partner: partner.connectionLimit, gateway: gatewayLimit });
        if (verdict.admitted) return undefined;
        log.info({ stream: info.streamId, partner: info.domain, limit: verdict.limit }, "inbound stream over a connection limit");
        return new StreamError("resource-constraint", verdict.text);
      },
      onClosed: (stream) => {
        const key = countedAs.get(stream);
        if (key === undefined) return;
        countedAs.delete(stream);
        sessions.release("inbound", key);
        sessions.remove(key);
      },
    });
    const outbound = new OutboundPool({
      findPartner: (domain) => partners.current().find(domain),
      resolve: async (domain) => {
        const reply = await ctx.bus.request<ResolveRequest, ResolveReply>(subjects.dnsResolve, { v: 1, domain }, ["targets"], 10_000);
        if (reply.error !== undefined && reply.targets.length === 0) throw new Error(`DNS: ${reply.error}`);
        return reply.targets;
      },
      dialbackKey: async (req) =>
        (await ctx.bus.request<DialbackKeyRequest, DialbackKeyReply>(subjects.dialbackKey, { v: 1, ...req }, ["key"], 5000)).key,
      bounce: (_xml, localDomain, remoteDomain, error) => {
        // Stanzas on this path today are bounces of inbound stanzas (errors, never re-bounced);
        // SIP-originated stanzas, whose failure goes back to SIP, arrive with outbound messaging.
        log.warn({ localDomain, remoteDomain, condition: error.condition, text: error.text }, "outbound stanza could not be delivered");
      },
      tls,
      tlsFiles: config.edge.tls,
      dnsServer: config.dns.server,
      limits,
      establishmentTimeoutMs: config.gateway.timeouts.streamEstablishment * 1000,
      idleTimeoutMs: config.gateway.timeouts.streamInactivity * 1000,
      keepaliveIntervalMs: config.gateway.timeouts.keepaliveInterval * 1000,
      connectionLimit: config.gateway.limits.connectionLimit,
      // Each new link counts against the partner's limit and the gateway's, across replicas.
      admit: async (remoteDomain, linkId, partnerLimit) => {
        const verdict = await sessions.acquire("outbound", remoteDomain, linkId, { partner: partnerLimit, gateway: gatewayLimit });
        return verdict.admitted ? undefined : verdict.text;
      },
      released: (linkId) => sessions.release("outbound", linkId),
      maxQueued: 1000,
      log,
      metrics: ctx.metrics,
    });
    ctx.bus.subscribe<OutboundStanza>(subjects.outboundStanza, queues.edgeListener, ["localDomain", "remoteDomain", "xml"], (stanza) =>
      outbound.send(stanza.localDomain, stanza.remoteDomain, stanza.xml, stanza.type),
    );
    // Outbound messaging (SIP → XMPP): the translator waits for the outcome of each stanza.
    const deliveries = new OutboundDeliveries({
      send: (localDomain, remoteDomain, xml, type, receipt) => outbound.send(localDomain, remoteDomain, xml, type, receipt),
      localDomains,
      maxStanzaBytes: config.gateway.limits.maxStanzaBytes,
      deadlineMs: config.gateway.timeouts.streamEstablishment * 1000,
      log,
    }).serve(ctx.bus);
    ctx.onShutdown(() => outbound.close());
    ctx.onShutdown(() => deliveries.drain());

    // A removed partner, or one whose entry no longer allows how its stream was authenticated
    // (e.g. TLS now required): its open streams, both ways, end with policy-violation.
    partners.onChange((next, _previous, revision) => {
      const check = (domain: string, facts: { method: "sasl-external" | "dialback"; tls: boolean }) => streamNoLongerAllowed(domain, next.find(domain), facts);
      const inbound = listener.closeWhere(check);
      const outboundClosed = outbound.closeWhere(check);
      if (inbound + outboundClosed > 0) log.info({ revision, inbound, outbound: outboundClosed }, "closed streams the changed partner entries no longer allow");
    });

    const where = await listener.listen();
    log.info(
      {
        s2s: `${where.host}:${where.port}`,
        tls: tls !== undefined,
        ...(where.directTls === undefined ? {} : { directTls: `${where.directTls.host}:${where.directTls.port}` }),
        queue: queues.edgeListener,
      },
      "listening for XMPP servers",
    );
    ctx.addReadinessCheck("s2s-listener", () => true);
    ctx.onShutdown(async () => {
      await listener.close();
      await sessions.stop();
    });
  },
});
