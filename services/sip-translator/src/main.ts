/** sip-translator: delivers authorised XMPP messages to the internal SIP proxy as SIP MESSAGE (RFC 7572). */
import { hostname } from "node:os";
import { DEFAULT_LIMITS } from "@passerelle/sip";
import { runService } from "@passerelle/runtime";
import { Counter } from "@passerelle/telemetry";
import { DeliveryMemory } from "./adapters/delivery-memory.ts";
import { serveDeliveries } from "./adapters/nats-responder.ts";
import { SipSide } from "./adapters/sip-side.ts";
import { DeliveryHandler } from "./delivery.ts";
import { AddressMapper } from "./domain/address-mapping.ts";

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
    const sip = await SipSide.start({
      listen: config.sip.listen,
      proxy: config.sip.proxy,
      timeoutMs: config.sip.requestTimeout * 1000,
      onDiagnostic: (event) => {
        refused.inc({ kind: event.kind });
        log.warn({ sip: event }, "SIP input refused or unmatched");
      },
    });
    ctx.onShutdown(() => sip.stop());

    const limits = config.gateway.limits;
    const handler = new DeliveryHandler({
      mapper: new AddressMapper(config.domains),
      gatewayHost: process.env.POD_NAME ?? hostname(),
      stanzaLimits: {
        maxStanzaBytes: limits.maxStanzaBytes,
        maxDepth: limits.maxDepth,
        maxAttributesPerElement: limits.maxAttributesPerElement,
        maxHeaderBytes: 4096,
      },
      maxSipBytes: DEFAULT_LIMITS.maxMessageBytes,
      send: (request) => sip.send(request),
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
