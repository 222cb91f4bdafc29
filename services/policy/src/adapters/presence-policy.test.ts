// Policy's part in presence (MISSION §1): presence goes to the translator with the partner type and
// the user's authorisation; an internal user subscribing to a contact adds it; the read-only
// contact-status query. Fakes for the bus and the store.
import { test } from "node:test";
import assert from "node:assert/strict";
import { PartnerDirectory, type Partner } from "@passerelle/config";
import type { ConfigChanged, InboundStanza, SipDeliveryRequest } from "@passerelle/contracts";
import type { Bus } from "@passerelle/runtime";
import { createLogger, Registry } from "@passerelle/telemetry";
import { InboundHandler } from "./inbound-handler.ts";
import { OutboundAuthorizer } from "./outbound-authorizer.ts";
import type { UserStore } from "./user-store.ts";

const log = createLogger("test", "silent");
const partners = new PartnerDirectory([
  { domain: "prosody.test", type: "federated", additionalDomains: [] } as unknown as Partner,
  { domain: "unverified.test", type: "public-unverified", additionalDomains: [] } as unknown as Partner,
]);

function fakes(facts: { xmppAccess: boolean; allowed: boolean }) {
  const requests: SipDeliveryRequest[] = [];
  const published: { subject: string; payload: unknown }[] = [];
  const allowed: [string, string][] = [];
  const bus = {
    request: async (_subject: string, payload: SipDeliveryRequest) => {
      requests.push(payload);
      return { v: 1, id: payload.id, outcome: "delivered" };
    },
    publish: (subject: string, payload: unknown) => void published.push({ subject, payload }),
  } as unknown as Bus;
  const store = {
    factsFor: async () => facts,
    hasXmppAccess: async () => facts.xmppAccess,
    allow: async (user: string, contact: string) => {
      allowed.push([user, contact]);
      return true;
    },
  } as unknown as UserStore;
  return { bus, store, requests, published, allowed };
}

const stanza = (from: string, type: string | undefined, xml: string): InboundStanza => ({
  v: 1,
  id: "s1",
  receivedAt: 0,
  edge: "e0",
  streamId: "st",
  partnerDomain: from.split("@")[1]!.split("/")[0]!,
  localDomain: "gateway.test",
  kind: "presence",
  ...(type === undefined ? {} : { type }),
  from,
  to: "romeo@gateway.test",
  xml,
});

function handler(f: ReturnType<typeof fakes>): InboundHandler {
  return new InboundHandler({ bus: f.bus, store: f.store, partners: () => partners, sipDomains: new Map(), sipTimeoutMs: 1000, log, metrics: new Registry() });
}

test("presence from a partner goes to the translator with the partner type and whether the user authorised the contact", async () => {
  const f = fakes({ xmppAccess: true, allowed: false });
  assert.equal(await handler(f).handle(stanza("carol@unverified.test/x", "subscribe", "<presence type='subscribe'/>"), false), "done");
  assert.equal(f.requests[0]?.partnerType, "public-unverified");
  assert.equal(f.requests[0]?.contactAuthorised, false);
  assert.equal(f.requests[0]?.kind, "presence");
  const g = fakes({ xmppAccess: true, allowed: true });
  await handler(g).handle(stanza("alice@prosody.test/x", undefined, "<presence/>"), false);
  assert.equal(g.requests[0]?.partnerType, "federated");
  assert.equal(g.requests[0]?.contactAuthorised, true);
});

test("presence to a user without XMPP access, and presence errors, go nowhere and bounce nothing", async () => {
  const f = fakes({ xmppAccess: false, allowed: true });
  assert.equal(await handler(f).handle(stanza("alice@prosody.test/x", "subscribe", "<presence type='subscribe'/>"), false), "done");
  assert.equal(await handler(f).handle(stanza("alice@prosody.test/x", "error", "<presence type='error'/>"), false), "done");
  assert.equal(f.requests.length + f.published.length, 0);
});

test("an internal user subscribing to a contact adds it to the allow-list and learns its partner type", async () => {
  const f = fakes({ xmppAccess: true, allowed: false });
  const authorizer = new OutboundAuthorizer({ bus: f.bus, store: f.store, partners: () => partners, localDomains: new Set(["gateway.test"]), log, metrics: new Registry() });
  const reply = await authorizer.authorize({ v: 1, id: "a1", kind: "presence", type: "subscribe", from: "juliet@gateway.test", to: "dave@unverified.test" });
  assert.deepEqual(reply, { v: 1, allowed: true, partnerType: "public-unverified" });
  assert.deepEqual(f.allowed, [["juliet@gateway.test", "dave@unverified.test"]]);
  assert.deepEqual(f.published[0]?.payload as ConfigChanged, { v: 1, kind: "allowlist", key: "juliet@gateway.test" });
  // An unsubscribe adds nobody.
  await authorizer.authorize({ v: 1, id: "a2", kind: "presence", type: "unsubscribe", from: "juliet@gateway.test", to: "erin@unverified.test" });
  assert.equal(f.allowed.length, 1);
});

test("contact status: read only, with the partner type; bad JIDs are not authorised", async () => {
  const f = fakes({ xmppAccess: true, allowed: true });
  const authorizer = new OutboundAuthorizer({ bus: f.bus, store: f.store, partners: () => partners, localDomains: new Set(["gateway.test"]), log, metrics: new Registry() });
  assert.deepEqual(await authorizer.contactStatus({ v: 1, user: "juliet@gateway.test", contact: "carol@unverified.test" }), { v: 1, authorised: true, xmppAccess: true, partnerType: "public-unverified" });
  assert.deepEqual(await authorizer.contactStatus({ v: 1, user: "@@", contact: "carol@unverified.test" }), { v: 1, authorised: false, xmppAccess: false });
  assert.equal(f.allowed.length + f.published.length, 0);
});
