/**
 * sip-translator: delivers authorised XMPP messages to the internal SIP proxy as SIP MESSAGE
 * (RFC 7572), and turns SIP MESSAGEs the proxy routes to us into XMPP messages for partners.
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import {
  queues,
  subjects,
  type ConfigChanged,
  type ContactStatusReply,
  type ContactStatusRequest,
  type OutboundAuthorizeReply,
  type OutboundAuthorizeRequest,
  type OutboundDeliverReply,
  type OutboundStanza,
} from "@passerelle/contracts";
import { DEFAULT_LIMITS } from "@passerelle/sip";
import { runService } from "@passerelle/runtime";
import { Counter, inRootSpan, SpanKind } from "@passerelle/telemetry";
import { DeliveryMemory } from "./adapters/delivery-memory.ts";
import { serveDeliveries } from "./adapters/nats-responder.ts";
import { SipSide } from "./adapters/sip-side.ts";
import { ChatStateMemory } from "./domain/chat-state-memory.ts";
import { COMPOSING_REFRESH_SECONDS } from "./domain/chat-states.ts";
import { DeliveryHandler } from "./delivery.ts";
import { AddressMapper } from "./domain/address-mapping.ts";
import { FifoLimiter } from "./domain/fifo-limiter.ts";
import { OutboundMessaging, type OutboundAnswer } from "./outbound.ts";
import { RedisPresenceStore } from "./adapters/presence-store.ts";
import { DEFAULT_MAX_PIDF_BYTES } from "./domain/presence-mapping.ts";
import { DEFAULT_SUBSCRIBE_EXPIRES } from "./domain/subscription-state.ts";
import { PresenceService } from "./presence.ts";

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
      // RFC 3994 refreshes of "active" arrive every refresh interval; XMPP has no refresh: a long memory.
      chatStates: new ChatStateMemory({ ttlMs: 10 * 60_000, maxEntries: 10_000 }),
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
    const presenceEvents = new Counter({
      name: "passerelle_sip_presence_total",
      help: "Presence work by kind (inbound-subscribe, notify, subscribe, watch, notify-watcher, hold, release, probe, …) and outcome (ok, refused, failed, ignored)",
      labelNames: ["kind", "outcome"],
      registers: [ctx.metrics],
    });
    const gatewayHost = process.env.POD_NAME ?? hostname();
    const listen = config.sip.listen;
    const presence = new PresenceService({
      mapper,
      localDomains: new Set(config.domains.map((d) => d.xmpp.toLowerCase())),
      store: new RedisPresenceStore(ctx.redis),
      contactUri: `sip:${listen.host.includes(":") ? `[${listen.host}]` : listen.host}:${listen.port};transport=${listen.transport}`,
      gatewayHost,
      sipSend: (request) => sip.send(request),
      tellUserOfRequests: true,
      deliverXmpp: (request) => ctx.bus.request<OutboundStanza, OutboundDeliverReply>(subjects.outboundDeliver, request, ["id", "outcome"], establishmentMs + 2000),
      authorize: (request) => ctx.bus.request<OutboundAuthorizeRequest, OutboundAuthorizeReply>(subjects.outboundAuthorize, request, ["allowed"], 5000),
      contactStatus: (request) => ctx.bus.request<ContactStatusRequest, ContactStatusReply>(subjects.contactStatus, request, ["authorised"], 5000),
      newId: () => randomUUID(),
      maxPidfBytes: Math.min(DEFAULT_MAX_PIDF_BYTES, positiveInteger("PASSERELLE_MAX_PIDF_BYTES", 16 * 1024)),
      subscribeExpires: positiveInteger("PASSERELLE_PRESENCE_EXPIRES", DEFAULT_SUBSCRIBE_EXPIRES),
      maxWatcherExpires: positiveInteger("PASSERELLE_PRESENCE_MAX_WATCHER_EXPIRES", DEFAULT_SUBSCRIBE_EXPIRES),
      maxHeldPerUser: positiveInteger("PASSERELLE_PRESENCE_MAX_HELD", 1000),
      probeIntervalMs: config.gateway.timeouts.subscriptionRefresh * 1000,
      onEvent: (event) => {
        presenceEvents.inc({ kind: event.kind, outcome: event.outcome });
        const line = { presence: event.kind, outcome: event.outcome, user: event.user, contact: event.contact, status: event.status, detail: event.detail };
        if (event.outcome === "refused" || event.outcome === "failed") log.warn(line, "presence");
        else log.info(line, "presence");
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
      // A SIP request from the proxy starts a trace, if the sampler keeps it (ADR 0011).
      onMessage: (request) => inRootSpan("receive SIP MESSAGE", { kind: SpanKind.SERVER }, () => outbound.handle(request)),
      onPresence: (request) => inRootSpan(`receive SIP ${request.method}`, { kind: SpanKind.SERVER }, () => presence.fromSip(request)),
    });
    ctx.onShutdown(() => sip.stop());
    // SIP subscriptions refreshed before they expire, watchers' ended, contacts re-probed (bounded batches).
    let sweeping = false;
    const sweeper = setInterval(() => {
      if (sweeping) return;
      sweeping = true;
      presence
        .sweep()
        .catch((err: unknown) => log.warn({ err }, "presence refresh failed"))
        .finally(() => (sweeping = false));
    }, Number(process.env.PASSERELLE_PRESENCE_SWEEP_MS ?? 1000));
    ctx.onShutdown(() => clearInterval(sweeper));
    // An allow-list change may release held subscriptions (one replica handles each change).
    const changes = ctx.bus.subscribe<ConfigChanged>(subjects.configChanged, queues.sipTranslator, ["kind", "key"], async (change) => {
      if (change.kind === "allowlist") await presence.allowListChanged(change.key);
    });
    ctx.onShutdown(() => changes.drain());

    const limits = config.gateway.limits;
    const outcomeCounters = new Map<string, { inc(): void }>();
    // The level is fixed at start (LOG_LEVEL): a delivery's info line is not even built below it.
    const infoLogs = log.isLevelEnabled("info");
    // SIP transactions in flight towards the proxy (the rest wait, in order).
    const sipWindow = new FifoLimiter(Number(process.env.PASSERELLE_SIP_WINDOW ?? 64));
    const handler = new DeliveryHandler({
      mapper,
      // Shorter than the refresh we announce (90 s): a repeated <composing/> after it refreshes the SIP side.
      chatStates: new ChatStateMemory({ ttlMs: (COMPOSING_REFRESH_SECONDS - 30) * 1000, maxEntries: 10_000 }),
      gatewayHost,
      presence,
      stanzaLimits: {
        maxStanzaBytes: limits.maxStanzaBytes,
        maxDepth: limits.maxDepth,
        maxAttributesPerElement: limits.maxAttributesPerElement,
        maxHeaderBytes: 4096,
      },
      maxSipBytes: DEFAULT_LIMITS.maxMessageBytes,
      send: (request) => sipWindow.run(() => sip.send(request)),
      onOutcome: (result, detail) => {
        const status = result.sipStatus === undefined ? "none" : `${Math.floor(result.sipStatus / 100)}xx`;
        // One child counter per (outcome, status class): no label hashing per delivery.
        let counter = outcomeCounters.get(`${result.outcome} ${status}`);
        if (counter === undefined) {
          counter = outcomes.labels({ outcome: result.outcome, status });
          outcomeCounters.set(`${result.outcome} ${status}`, counter);
        }
        counter.inc();
        if (infoLogs) log.info({ delivery: result.id, outcome: result.outcome, sipStatus: result.sipStatus, error: result.error?.condition, ...detail }, "delivery");
      },
    });
    const memory = new DeliveryMemory(ctx.redis);
    // Runs after the subscription's drain below (hooks run newest first), before Redis closes.
    ctx.onShutdown(() => memory.flush());
    const subscription = serveDeliveries(ctx.bus, handler, memory);
    // Stop taking requests first, then let the SIP side finish (hooks run newest first).
    ctx.onShutdown(() => subscription.drain());
    log.info({ listen: sip.transport.local, proxy: config.sip.proxy }, "sip-translator ready");
  },
});

/** A positive integer from the environment (seconds or bytes), else the default; a bad value stops the start. */
function positiveInteger(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw.slice(0, 40))}`);
  return n;
}
