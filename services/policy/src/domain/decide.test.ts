import { test } from "node:test";
import assert from "node:assert/strict";
import { decide, maySeeStatusNote, type InboundFacts } from "./decide.ts";

const chat: InboundFacts = {
  kind: "message",
  type: "chat",
  partnerType: "federated",
  recipientHasXmppAccess: true,
  senderAllowedByRecipient: false,
};

test("Federated and Public verified users may message any internal user", () => {
  assert.deepEqual(decide(chat), { action: "deliver" });
  assert.deepEqual(decide({ ...chat, partnerType: "public-verified" }), { action: "deliver" });
});

test("a Public unverified user is refused until the internal user allows them", () => {
  const refused = decide({ ...chat, partnerType: "public-unverified" });
  assert.equal(refused.action, "bounce");
  assert.equal(refused.action === "bounce" && refused.error.condition, "forbidden");
  assert.deepEqual(decide({ ...chat, partnerType: "public-unverified", senderAllowedByRecipient: true }), { action: "deliver" });
});

test("a recipient without XMPP access looks like no recipient", () => {
  const d = decide({ ...chat, recipientHasXmppAccess: false });
  assert.deepEqual(d, { action: "bounce", error: { type: "cancel", condition: "service-unavailable" } });
});

test("errors are never answered with errors", () => {
  assert.equal(decide({ ...chat, type: "error" }).action, "drop");
  assert.equal(decide({ ...chat, kind: "iq", type: "error" }).action, "drop");
});

test("iq get/set is answered service-unavailable, iq result dropped", () => {
  assert.deepEqual(decide({ ...chat, kind: "iq", type: "get" }), {
    action: "bounce",
    error: { type: "cancel", condition: "service-unavailable" },
  });
  assert.equal(decide({ ...chat, kind: "iq", type: "result" }).action, "drop");
});

test("a stanza from a domain that is no longer a partner is bounced", () => {
  const d = decide({ ...chat, partnerType: undefined });
  assert.equal(d.action === "bounce" && d.error.condition, "service-unavailable");
});

test("group chat is refused as not implemented", () => {
  const d = decide({ ...chat, type: "groupchat" });
  assert.equal(d.action === "bounce" && d.error.condition, "feature-not-implemented");
});

test("only Federated partners see status notes", () => {
  assert.equal(maySeeStatusNote("federated"), true);
  assert.equal(maySeeStatusNote("public-verified"), false);
  assert.equal(maySeeStatusNote("public-unverified"), false);
});
