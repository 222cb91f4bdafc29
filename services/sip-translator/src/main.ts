/**
 * sip-translator: delivers authorised XMPP messages to the internal SIP proxy as SIP MESSAGE
 * (RFC 7572), and turns SIP MESSAGEs the proxy routes to us into XMPP messages for partners.
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { subjects, type OutboundAuthorizeReply, type OutboundAuthorizeRequest, type OutboundDeliverReply, type OutboundStanza } from "@passerelle/contracts";
import { DEFAULT_LIMITS } from "@passerelle/sip";
import { runService } from "@passerelle/runtime";
import { Counter } from "@passerelle/telemetry";
import { DeliveryMemory } from "./adapters/delivery-memory.ts";
import { serveDeliveries } from "./adapters/nats-responder.ts";
import { SipSide } from "./adapters/sip-side.ts";
import { DeliveryHandler } from "./delivery.ts";
import { AddressMapper } from "./domain/address-mapping.ts";
import { FifoLimiter } from "./domain/fifo-limiter.ts";
import { OutboundMessaging, type OutboundAnswer } from "./outbound.ts";

await runService({
  name: "sip-translator",
  async start(ctx) {
    const { config, log } = ctx;
    const outcomes = new Counter({
      name: "passerelle_sip_deliveries_total",
      help: "Deliveries to the SIP side by outcome (delivered, failed, ignored) and SIP status class",
      labelNames: ["outcome", "status"],
      registers: [ctx.metrics],
    });
    const refused = new Counter({
      name: "passerelle_sip_refused_total",
      help: "SIP input refused (malformed, oversize) or stray responses",
      labelNames: ["kind"],
      registers: [ctx.metrics],
    });
    const outboundAnswers = new Counter({
      name: "passerelle_sip_outbound_messages_total",
      help: "SIP MESSAGEs to XMPP contacts by the SIP status they were answered with",
      labelNames: ["status"],
      registers: [ctx.metrics],
    });
    const mapper = new AddressMapper(config.domains);
    const establishmentMs = config.gateway.timeouts.streamEstablishment * 1000;
    const outbound = new OutboundMessaging({
      mapper,
      localDomains: new Set(config.domains.map((d) => d.xmpp.toLowerCase())),
      authorize: (request) => ctx.bus.request<OutboundAuthorizeRequest, OutboundAuthorizeReply>(subjects.outboundAuthorize, request, ["allowed"], 5000),
      // The edge answers within the stream establishment timeout; a little more for the bus.
      deliver: (request) => ctx.bus.request<OutboundStanza, OutboundDeliverReply>(subjects.outboundDeliver, request, ["id", "outcome"], establishmentMs + 2000),
      newId: () => randomUUID(),
      maxStanzaBytes: config.gateway.limits.maxStanzaBytes,
      maxPending: 10_000,
      onOutcome: (answer: OutboundAnswer, detail) => {
        outboundAnswers.inc({ status: String(answer.status) });
        log.info({ outbound: detail.id, status: answer.status, from: detail.from, to: detail.to, condition: detail.condition, reason: detail.reason }, "outbound message");
      },
    });
    const sip = await SipSide.start({
      listen: config.sip.listen,
      proxy: config.sip.proxy,
      timeoutMs: config.sip.requestTimeout * 1000,
      onDiagnostic: (event) => {
        refused.inc({ kind: event.kind });
        log.warn({ sip: event }, "SIP input refused or unmatched");
      },
      onMessage: (request) => outbound.handle(request),
    });
    ctx.onShutdown(() => sip.stop());

    const limits = config.gateway.limits;
    // SIP transactions in flight towards the proxy (the rest wait, in order).
    const sipWindow = new FifoLimiter(Number(process.env.PASSERELLE_SIP_WINDOW ?? 64));
    const handler = new DeliveryHandler({
      mapper,
      gatewayHost: process.env.POD_NAME ?? hostname(),
      stanzaLimits: {
        maxStanzaBytes: limits.maxStanzaBytes,
        maxDepth: limits.maxDepth,
        maxAttributesPerElement: limits.maxAttributesPerElement,
        maxHeaderBytes: 4096,
      },
      maxSipBytes: DEFAULT_LIMITS.maxMessageBytes,
      send: (request) => sipWindow.run(() => sip.send(request)),
      onOutcome: (result, detail) => {
        outcomes.inc({ outcome: result.outcome, status: result.sipStatus === undefined ? "none" : `${Math.floor(result.sipStatus / 100)}xx` });
        log.info({ delivery: result.id, outcome: result.outcome, sipStatus: result.sipStatus, error: result.error?.condition, ...detail }, "delivery");
      },
    });
    const subscription = serveDeliveries(ctx.bus, handler, new DeliveryMemory(ctx.redis));
    // Stop taking requests first, then let the SIP side finish (hooks run newest first).
    ctx.onShutdown(() => subscription.drain());
    log.info({ listen: sip.transport.local, proxy: config.sip.proxy }, "sip-translator ready");
  },
});
