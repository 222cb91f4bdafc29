/** NATS: answers `passerelle.v1.sip.deliver` in queue group "sip-translator" (one replica per request). */
import { queues, subjects, type SipDeliveryRequest, type SipDeliveryResult } from "@passerelle/contracts";
import type { Bus } from "@passerelle/runtime";
import type { DeliveryHandler } from "../delivery.ts";
import type { DeliveryMemory } from "./delivery-memory.ts";

export const DELIVERY_REQUIRED = ["id", "kind", "from", "to", "xml"] as const satisfies readonly (keyof SipDeliveryRequest)[];

export function serveDeliveries(bus: Bus, handler: DeliveryHandler, memory?: DeliveryMemory): { unsubscribe(): void; drain(): Promise<void> } {
  const sub = bus.reply<SipDeliveryRequest, SipDeliveryResult>(subjects.sipDeliver, queues.sipTranslator, DELIVERY_REQUIRED, (request) =>
    memory === undefined ? handler.deliver(request) : memory.once(request, () => handler.deliver(request)),
  );
  return { unsubscribe: () => sub.unsubscribe(), drain: () => sub.drain() };
}
