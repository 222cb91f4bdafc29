/**
 * Answers `passerelle.v1.partners.snapshot` (queue group "policy"): the partner store's entries,
 * revision and live settings, read from Redis (so every policy replica answers the same).
 */
import type { Subscription } from "@nats-io/transport-node";
import { queues, subjects, type PartnersSnapshotReply, type PartnersSnapshotRequest } from "@passerelle/contracts";
import type { Bus } from "@passerelle/runtime";
import type { PartnerStore } from "./partner-store.ts";

export function servePartnerSnapshots(bus: Bus, store: PartnerStore): Subscription {
  return bus.reply<PartnersSnapshotRequest, PartnersSnapshotReply>(subjects.partnersSnapshot, queues.policy, [], async () => {
    const s = await store.snapshot();
    return { v: 1, revision: s.revision, partners: s.partners, settings: s.settings };
  });
}
