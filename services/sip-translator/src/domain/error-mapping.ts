/**
 * Errors across the gateway (RFC 7247 §8): an XMPP stanza error condition becomes a SIP response
 * code (§8.1) and a SIP response code becomes an XMPP condition (§8.2); the error type is the
 * one RFC 6120 §8.3.3 gives each condition.
 *
 * Checked against the text: ERROR_TYPE agrees with RFC 6120 §8.3.3.1–22 (read as quoted per
 * condition in the Babbler/rocks.xmpp sources); where the RFC allows two types the first is used.
 * NOT verified: the XMPP_TO_SIP and SIP_TO_XMPP rows. They were written from RFC 7247 §8 as we
 * remember it; every stored copy of RFC 7247 and of its drafts (pages and docs corpora, and no
 * repository in the code corpus) shows only the opening pages, so §8.1/§8.2 could not be read.
 * Golden tests pin every row.
 */
import type { StanzaErrorInfo } from "@passerelle/contracts";
import type { StanzaErrorCondition } from "@passerelle/xmpp";

/** The RFC 6120 §8.3.3 conditions (declared once, in the xmpp package). */
export type XmppCondition = StanzaErrorCondition;

// RFC 6120 §8.3.3: the type each defined condition "SHOULD" be sent with (checked, see the header).
export const ERROR_TYPE: Readonly<Record<XmppCondition, StanzaErrorInfo["type"]>> = {
  "bad-request": "modify",
  conflict: "cancel",
  "feature-not-implemented": "cancel",
  forbidden: "auth",
  gone: "cancel",
  "internal-server-error": "cancel",
  "item-not-found": "cancel",
  "jid-malformed": "modify",
  "not-acceptable": "modify",
  "not-allowed": "cancel",
  "not-authorized": "auth",
  "policy-violation": "modify",
  "recipient-unavailable": "wait",
  redirect: "modify",
  "registration-required": "auth",
  "remote-server-not-found": "cancel",
  "remote-server-timeout": "wait",
  "resource-constraint": "wait",
  "service-unavailable": "cancel",
  "subscription-required": "auth",
  "undefined-condition": "cancel",
  "unexpected-request": "wait",
};

// RFC 7247 §8.1: XMPP stanza error condition → SIP response code (not verified against the RFC text).
export const XMPP_TO_SIP: Readonly<Record<XmppCondition, number>> = {
  "bad-request": 400,
  conflict: 400,
  "feature-not-implemented": 405,
  forbidden: 403,
  gone: 301,
  "internal-server-error": 500,
  "item-not-found": 404,
  "jid-malformed": 400,
  "not-acceptable": 406,
  "not-allowed": 405,
  "not-authorized": 401,
  "policy-violation": 403,
  "recipient-unavailable": 480,
  redirect: 302,
  "registration-required": 400,
  "remote-server-not-found": 404,
  "remote-server-timeout": 408,
  "resource-constraint": 500,
  "service-unavailable": 503,
  "subscription-required": 400,
  "undefined-condition": 400,
  "unexpected-request": 491,
};

// RFC 7247 §8.2: SIP response code → XMPP stanza error condition (not verified against the RFC text).
export const SIP_TO_XMPP: Readonly<Record<number, XmppCondition>> = {
  400: "bad-request",
  401: "not-authorized",
  402: "bad-request",
  403: "forbidden",
  404: "item-not-found",
  405: "feature-not-implemented",
  406: "not-acceptable",
  407: "not-authorized",
  408: "remote-server-timeout",
  410: "gone",
  413: "policy-violation",
  414: "jid-malformed",
  415: "not-acceptable",
  416: "jid-malformed",
  420: "feature-not-implemented",
  421: "not-acceptable",
  423: "resource-constraint",
  430: "recipient-unavailable",
  433: "policy-violation",
  436: "not-acceptable",
  437: "not-acceptable",
  438: "not-acceptable",
  439: "feature-not-implemented",
  440: "policy-violation",
  480: "recipient-unavailable",
  481: "item-not-found",
  482: "not-acceptable",
  483: "not-acceptable",
  484: "item-not-found",
  485: "item-not-found",
  486: "recipient-unavailable",
  487: "service-unavailable",
  488: "not-acceptable",
  489: "policy-violation",
  491: "unexpected-request",
  493: "bad-request",
  500: "internal-server-error",
  501: "feature-not-implemented",
  502: "remote-server-not-found",
  503: "service-unavailable",
  504: "remote-server-timeout",
  505: "not-acceptable",
  513: "policy-violation",
  600: "service-unavailable",
  603: "service-unavailable",
  604: "item-not-found",
  606: "not-acceptable",
};

export function isXmppCondition(s: string): s is XmppCondition {
  return Object.prototype.hasOwnProperty.call(XMPP_TO_SIP, s);
}

/** RFC 7247 §8.1: the SIP code for an XMPP condition (an unknown one is treated as undefined-condition). */
export function sipStatusForXmppError(condition: string): number {
  return isXmppCondition(condition) ? XMPP_TO_SIP[condition] : XMPP_TO_SIP["undefined-condition"];
}

/**
 * RFC 7247 §8.2: the XMPP error for a SIP failure (3xx–6xx). A code not in the table is treated
 * as the x00 code of its class (RFC 3261 §8.1.3.2); any 3xx is a redirect.
 */
export function xmppErrorForSipStatus(status: number, reason?: string): StanzaErrorInfo {
  let condition: XmppCondition;
  if (status >= 300 && status < 400) condition = "redirect";
  else condition = SIP_TO_XMPP[status] ?? SIP_TO_XMPP[Math.floor(status / 100) * 100] ?? "undefined-condition";
  const info: StanzaErrorInfo = { type: ERROR_TYPE[condition], condition };
  if (reason !== undefined && reason.length > 0) info.text = `SIP ${status} ${reason}`;
  return info;
}

/** The XMPP error for a condition, with its RFC 6120 type. */
export function xmppError(condition: XmppCondition, text?: string): StanzaErrorInfo {
  return text === undefined ? { type: ERROR_TYPE[condition], condition } : { type: ERROR_TYPE[condition], condition, text };
}
