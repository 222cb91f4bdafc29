import { test } from "node:test";
import assert from "node:assert/strict";
import { ERROR_TYPE, SIP_TO_XMPP, XMPP_TO_SIP, sipStatusForXmppError, xmppErrorForSipStatus } from "./error-mapping.ts";

// Golden rows: RFC 7247 §8.1, XMPP condition → SIP code. NOT verified against the RFC text (only its
// opening pages were reachable); they pin what we ship.
const XMPP_ROWS: [string, number][] = [
  ["bad-request", 400], ["conflict", 400], ["feature-not-implemented", 405], ["forbidden", 403], ["gone", 301],
  ["internal-server-error", 500], ["item-not-found", 404], ["jid-malformed", 400], ["not-acceptable", 406],
  ["not-allowed", 405], ["not-authorized", 401], ["policy-violation", 403], ["recipient-unavailable", 480],
  ["redirect", 302], ["registration-required", 400], ["remote-server-not-found", 404], ["remote-server-timeout", 408],
  ["resource-constraint", 500], ["service-unavailable", 503], ["subscription-required", 400],
  ["undefined-condition", 400], ["unexpected-request", 491],
];

// Golden rows: RFC 7247 §8.2, SIP code → XMPP condition (NOT verified, as above) and the RFC 6120 type.
const SIP_ROWS: [number, string, string][] = [
  [400, "bad-request", "modify"], [401, "not-authorized", "auth"], [402, "bad-request", "modify"], [403, "forbidden", "auth"],
  [404, "item-not-found", "cancel"], [405, "feature-not-implemented", "cancel"], [406, "not-acceptable", "modify"],
  [407, "not-authorized", "auth"], [408, "remote-server-timeout", "wait"], [410, "gone", "cancel"],
  [413, "policy-violation", "modify"], [414, "jid-malformed", "modify"], [415, "not-acceptable", "modify"],
  [416, "jid-malformed", "modify"], [420, "feature-not-implemented", "cancel"], [421, "not-acceptable", "modify"],
  [423, "resource-constraint", "wait"], [430, "recipient-unavailable", "wait"], [433, "policy-violation", "modify"],
  [436, "not-acceptable", "modify"], [437, "not-acceptable", "modify"], [438, "not-acceptable", "modify"],
  [439, "feature-not-implemented", "cancel"], [440, "policy-violation", "modify"], [480, "recipient-unavailable", "wait"],
  [481, "item-not-found", "cancel"], [482, "not-acceptable", "modify"], [483, "not-acceptable", "modify"],
  [484, "item-not-found", "cancel"], [485, "item-not-found", "cancel"], [486, "recipient-unavailable", "wait"],
  [487, "service-unavailable", "cancel"], [488, "not-acceptable", "modify"], [489, "policy-violation", "modify"],
  [491, "unexpected-request", "wait"], [493, "bad-request", "modify"], [500, "internal-server-error", "cancel"],
  [501, "feature-not-implemented", "cancel"], [502, "remote-server-not-found", "cancel"], [503, "service-unavailable", "cancel"],
  [504, "remote-server-timeout", "wait"], [505, "not-acceptable", "modify"], [513, "policy-violation", "modify"],
  [600, "service-unavailable", "cancel"], [603, "service-unavailable", "cancel"], [604, "item-not-found", "cancel"],
  [606, "not-acceptable", "modify"],
];

for (const [condition, status] of XMPP_ROWS) {
  test(`XMPP <${condition}/> → SIP ${status}`, () => assert.equal(sipStatusForXmppError(condition), status));
}
for (const [status, condition, type] of SIP_ROWS) {
  test(`SIP ${status} → <${condition}/> type ${type}`, () => {
    assert.deepEqual(xmppErrorForSipStatus(status), { condition, type });
  });
}

test("the tables hold exactly the golden rows", () => {
  assert.equal(Object.keys(XMPP_TO_SIP).length, XMPP_ROWS.length);
  assert.equal(Object.keys(SIP_TO_XMPP).length, SIP_ROWS.length);
  assert.equal(Object.keys(ERROR_TYPE).length, XMPP_ROWS.length);
});

test("3xx → redirect; unknown codes as their class's x00 (RFC 3261 §8.1.3.2); the reason goes in text", () => {
  assert.equal(xmppErrorForSipStatus(301).condition, "redirect");
  assert.equal(xmppErrorForSipStatus(380).condition, "redirect");
  assert.equal(xmppErrorForSipStatus(499).condition, "bad-request");
  assert.equal(xmppErrorForSipStatus(599).condition, "internal-server-error");
  assert.equal(xmppErrorForSipStatus(699).condition, "service-unavailable");
  assert.deepEqual(xmppErrorForSipStatus(480, "Temporarily Unavailable"), { type: "wait", condition: "recipient-unavailable", text: "SIP 480 Temporarily Unavailable" });
  assert.equal(sipStatusForXmppError("made-up"), 400);
});

// RFC 6120 §8.3.3.x (checked against the text): the section of each condition and the error types it
// says the condition SHOULD carry; our ERROR_TYPE takes the first where two are allowed.
const RFC6120_TYPES: [string, string, string[]][] = [
  ["8.3.3.1", "bad-request", ["modify"]],
  ["8.3.3.2", "conflict", ["cancel"]],
  ["8.3.3.3", "feature-not-implemented", ["cancel", "modify"]],
  ["8.3.3.4", "forbidden", ["auth"]],
  ["8.3.3.5", "gone", ["cancel"]],
  ["8.3.3.6", "internal-server-error", ["cancel"]],
  ["8.3.3.7", "item-not-found", ["cancel"]],
  ["8.3.3.8", "jid-malformed", ["modify"]],
  ["8.3.3.9", "not-acceptable", ["modify"]],
  ["8.3.3.10", "not-allowed", ["cancel"]],
  ["8.3.3.11", "not-authorized", ["auth"]],
  ["8.3.3.12", "policy-violation", ["modify", "wait"]],
  ["8.3.3.13", "recipient-unavailable", ["wait"]],
  ["8.3.3.14", "redirect", ["modify"]],
  ["8.3.3.15", "registration-required", ["auth"]],
  ["8.3.3.16", "remote-server-not-found", ["cancel"]],
  ["8.3.3.17", "remote-server-timeout", ["wait"]],
  ["8.3.3.18", "resource-constraint", ["wait"]],
  ["8.3.3.19", "service-unavailable", ["cancel"]],
  ["8.3.3.20", "subscription-required", ["auth"]],
  // §8.3.3.21: "any error type can be associated with this condition".
  ["8.3.3.21", "undefined-condition", ["cancel", "modify", "auth", "wait", "continue"]],
  ["8.3.3.22", "unexpected-request", ["wait", "modify"]],
];

test("every condition's error type is the one RFC 6120 §8.3.3 gives it (the first where two are allowed)", () => {
  assert.equal(RFC6120_TYPES.length, Object.keys(ERROR_TYPE).length);
  for (const [section, condition, allowed] of RFC6120_TYPES) {
    const ours = (ERROR_TYPE as Record<string, string>)[condition];
    assert.equal(ours, allowed[0], `RFC 6120 §${section} <${condition}/>`);
    assert.ok(allowed.includes(ours!), `RFC 6120 §${section} <${condition}/>`);
  }
});
