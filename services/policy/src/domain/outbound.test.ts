import { test } from "node:test";
import assert from "node:assert/strict";
import { decideOutbound, type OutboundFacts } from "./outbound.ts";

const chat: OutboundFacts = { kind: "message", type: "chat", senderIsLocal: true, recipientIsLocal: false, senderHasXmppAccess: true, partnerType: "federated" };

test("an internal user with XMPP access may write to any partner's user, and that adds the contact", () => {
  for (const partnerType of ["federated", "public-verified", "public-unverified"] as const) {
    assert.deepEqual(decideOutbound({ ...chat, partnerType }), { action: "allow", allowContact: true });
  }
});

test("a user without XMPP access is refused with forbidden", () => {
  const d = decideOutbound({ ...chat, senderHasXmppAccess: false });
  assert.equal(d.action, "refuse");
  assert.deepEqual(d.action === "refuse" && [d.error.type, d.error.condition], ["auth", "forbidden"]);
});

test("a domain that is not a partner is remote-server-not-found", () => {
  const d = decideOutbound({ ...chat, partnerType: undefined });
  assert.equal(d.action === "refuse" && d.error.condition, "remote-server-not-found");
});

test("a sender that is not ours, or a recipient that is, is refused", () => {
  assert.equal(decideOutbound({ ...chat, senderIsLocal: false }).action, "refuse");
  const d = decideOutbound({ ...chat, recipientIsLocal: true });
  assert.equal(d.action === "refuse" && d.error.condition, "item-not-found");
});

test("group chat is not relayed; error stanzas add no contact", () => {
  const d = decideOutbound({ ...chat, type: "groupchat" });
  assert.equal(d.action === "refuse" && d.error.condition, "feature-not-implemented");
  assert.deepEqual(decideOutbound({ ...chat, type: "error" }), { action: "allow", allowContact: false });
});
