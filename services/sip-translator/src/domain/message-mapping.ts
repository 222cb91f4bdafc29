/**
 * Instant messages across the gateway (RFC 7572): an XMPP <message/> of type chat or normal with a
 * <body/> becomes a SIP MESSAGE (RFC 3428) with a text/plain body, and a SIP MESSAGE becomes an
 * XMPP <message type='chat'/>. Pure: no sockets, no clocks (ids are passed in).
 */
import { createHash } from "node:crypto";
import { NS, xml, type Element } from "@passerelle/xmpp";
import { SipHeaders, formatNameAddr, parseNameAddr, type SipRequest } from "@passerelle/sip";
import type { StanzaErrorInfo } from "@passerelle/contracts";
import { AddressMappingError, type AddressMapper } from "./address-mapping.ts";
import { xmppError } from "./error-mapping.ts";
import { ISCOMPOSING_CONTENT_TYPE, IsComposingError, buildIsComposing, chatStateFor, chatStateOf, isComposingStateFor, parseIsComposing } from "./chat-states.ts";

export const TEXT_PLAIN_UTF8 = "text/plain;charset=UTF-8";
const MAX_SUBJECT = 1024;

/** What to send: everything of the SIP MESSAGE but the Via, which the transaction layer adds. */
export interface SipMessageDraft {
  requestUri: string;
  from: string;
  to: string;
  callId: string;
  subject?: string;
  body: string;
  /** Content-Type of the body; text/plain;charset=UTF-8 when absent. */
  contentType?: string;
  /** The XMPP stanza's id, kept to correlate the SIP answer with the stanza (and for logs). */
  xmppId?: string;
}

export type XmppToSipOutcome =
  | { outcome: "send"; draft: SipMessageDraft }
  | { outcome: "ignored"; reason: string }
  | { outcome: "failed"; error: StanzaErrorInfo; reason: string };

export interface XmppToSipContext {
  mapper: AddressMapper;
  /** Sender and recipient as the bus carried them (already checked by edge and policy). */
  from: string;
  to: string;
  /** The internal SIP domain of the recipient, if the caller knows it. */
  sipDomain?: string;
  /** Our host name, the right-hand side of Call-IDs we make. */
  gatewayHost: string;
  /** The From tag (RFC 3261 §8.1.1.3). */
  fromTag: string;
  /** A fresh random Call-ID for a message without <thread/>. */
  newCallId: () => string;
}

/** RFC 7572 §4 (XMPP to SIP). */
export function xmppMessageToSip(stanza: Element, ctx: XmppToSipContext): XmppToSipOutcome {
  if (stanza.getName() !== "message") return { outcome: "failed", error: xmppError("feature-not-implemented"), reason: `a <${stanza.getName()}/> is not an instant message` };
  const type = stanza.attrs.type ?? "normal";
  // RFC 6120 §8.3.1: an error is never answered with an error; it has nowhere to go on the SIP side.
  if (type === "error") return { outcome: "ignored", reason: "message of type error" };
  // RFC 6121 §5.2.2 / §8.5.2: a headline is never answered with an error; nothing on the SIP side takes it.
  if (type === "headline") return { outcome: "ignored", reason: "message of type headline" };
  // RFC 7572 §1 leaves group chat out (RFC 7573 covers it); RFC 6121 §8.5.2.1.1: groupchat to a user is refused with service-unavailable.
  if (type === "groupchat") return { outcome: "failed", error: xmppError("service-unavailable", "group chat is not relayed to SIP"), reason: "groupchat" };
  if (type !== "chat" && type !== "normal") return { outcome: "failed", error: xmppError("bad-request", `unknown message type ${type.slice(0, 40)}`), reason: "bad type" };

  let body = pickBody(stanza);
  let contentType: string | undefined;
  if (body === undefined) {
    // XEP-0085 §2: a "standalone notification" (a chat state without a body) becomes an isComposing document; a body with a state goes as text only (RFC 3994: text implies idle).
    const state = chatStateOf(stanza);
    // A message without a body or a chat state (receipts…) has no SIP MESSAGE counterpart.
    if (state === undefined) return { outcome: "ignored", reason: "no body" };
    body = buildIsComposing(isComposingStateFor(state));
    contentType = ISCOMPOSING_CONTENT_TYPE;
  }

  let requestUri: string;
  let from: string;
  let to: string;
  try {
    const sipDomain = ctx.sipDomain;
    // RFC 7247 §5.2: the recipient's JID becomes the Request-URI and To; our SIP users have no XMPP resource, so it is dropped.
    requestUri = ctx.mapper.jidToSipUriString(ctx.to, { ...(sipDomain === undefined ? {} : { sipDomain }), withResource: false });
    to = `<${requestUri}>`;
    // RFC 7247 §5.2: the sender's full JID, its resource as the GRUU "gr" parameter, so a reply can reach that resource.
    const fromUri = ctx.mapper.jidToSipUri(ctx.from);
    from = formatNameAddr({ uri: fromUri, params: new Map([["tag", ctx.fromTag]]) });
  } catch (err) {
    if (err instanceof AddressMappingError) return { outcome: "failed", error: xmppError("jid-malformed", err.message), reason: err.message };
    throw err;
  }

  // RFC 7572 §4: a <thread/> keeps one Call-ID for the conversation; otherwise each message has its own.
  const thread = stanza.getChildText("thread");
  const callId =
    thread !== null && thread.length > 0
      ? `${createHash("sha256").update(`${ctx.from}\u0000${ctx.to}\u0000${thread}`).digest("hex").slice(0, 32)}@${ctx.gatewayHost}`
      : ctx.newCallId();

  const draft: SipMessageDraft = { requestUri, from, to, callId, body };
  if (contentType !== undefined) draft.contentType = contentType;
  const subject = stanza.getChildText("subject");
  if (contentType === undefined && subject !== null && subject.length > 0) draft.subject = subject.replace(/[\r\n]+/g, " ").slice(0, MAX_SUBJECT);
  const id = stanza.attrs.id;
  if (id !== undefined) draft.xmppId = id;
  return { outcome: "send", draft };
}

// RFC 6121 §5.2.3: several <body/> may differ by xml:lang; take the one without xml:lang (the default language), else the first.
function pickBody(stanza: Element): string | undefined {
  const bodies = stanza.getChildren("body").filter((b) => b.getNS() === stanza.getNS() || b.getNS() === undefined);
  const chosen = bodies.find((b) => b.attrs["xml:lang"] === undefined) ?? bodies[0];
  if (!chosen) return undefined;
  const text = chosen.getText();
  return text.length === 0 ? undefined : text;
}

/** The SIP MESSAGE for a draft (RFC 3428 §4; Via is added by the transaction layer). */
export function buildSipMessage(draft: SipMessageDraft): SipRequest {
  const headers = new SipHeaders([
    ["Max-Forwards", "70"],
    ["From", draft.from],
    ["To", draft.to],
    ["Call-ID", draft.callId],
    ["CSeq", "1 MESSAGE"],
  ]);
  if (draft.subject !== undefined) headers.append("Subject", draft.subject);
  headers.append("Content-Type", draft.contentType ?? TEXT_PLAIN_UTF8);
  return { kind: "request", method: "MESSAGE", uri: draft.requestUri, headers, body: Buffer.from(draft.body, "utf8") };
}

export type SipToXmppOutcome =
  | { outcome: "stanza"; stanza: Element }
  | { outcome: "rejected"; status: number; reason: string };

/** RFC 7572 §5 (SIP to XMPP): a MESSAGE with text/plain (or message/cpim around it) becomes a chat message. */
export function sipMessageToXmpp(request: SipRequest, mapper: AddressMapper, options: { id: string }): SipToXmppOutcome {
  if (request.method !== "MESSAGE") return { outcome: "rejected", status: 405, reason: "Method Not Allowed" };
  const contentType = request.headers.get("content-type") ?? "text/plain";
  let composing: Element | undefined;
  let text = "";
  // RFC 3994: an isComposing MESSAGE becomes a standalone notification, the chat state its only child (XEP-0085 §5.6 rule 3).
  if ((contentType.split(";")[0] ?? "").trim().toLowerCase() === ISCOMPOSING_CONTENT_TYPE) {
    try {
      composing = xml(chatStateFor(parseIsComposing(request.body).state), { xmlns: NS.chatStates });
    } catch (err) {
      if (err instanceof IsComposingError) return { outcome: "rejected", status: err.status, reason: err.message };
      throw err;
    }
  } else {
    const content = unwrapText(contentType, request.body);
    if ("status" in content) return { outcome: "rejected", ...content };
    text = content.text;
  }
  let from: string;
  let to: string;
  try {
    from = mapper.sipUriToJid(parseNameAddr(request.headers.get("from") ?? "").uri).toString();
    to = mapper.sipUriToJid(request.uri).toString();
  } catch (err) {
    return { outcome: "rejected", status: 400, reason: `Bad Address: ${(err as Error).message}`.slice(0, 120) };
  }
  if (composing !== undefined) return { outcome: "stanza", stanza: xml("message", { type: "chat", from, to, id: options.id }, composing) };
  text = text.replace(/\r\n/g, "\n");
  const subject = request.headers.get("subject");
  const stanza = xml("message", { type: "chat", from, to, id: options.id }, subject ? xml("subject", {}, subject) : undefined, xml("body", {}, text));
  return { outcome: "stanza", stanza };
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function unwrapText(contentType: string, body: Buffer, depth = 0): { text: string } | { status: number; reason: string } {
  const [mediaType = "", ...params] = contentType.split(";").map((p) => p.trim());
  const type = mediaType.toLowerCase();
  if (type === "text/plain") {
    const charset = params.map((p) => /^charset\s*=\s*"?([^";]+)"?$/i.exec(p)?.[1]?.toLowerCase()).find((c) => c !== undefined);
    if (charset !== undefined && charset !== "utf-8" && charset !== "us-ascii") return { status: 415, reason: "Unsupported Media Type" };
    try {
      return { text: utf8.decode(body) };
    } catch {
      return { status: 400, reason: "Body Is Not UTF-8" };
    }
  }
  // RFC 3862 §3: message/cpim = CPIM headers, blank line, MIME headers, blank line, content.
  if (type === "message/cpim" && depth === 0) {
    const raw = body.toString("latin1");
    const first = raw.search(/\r?\n\r?\n/);
    if (first < 0) return { status: 400, reason: "Bad CPIM" };
    const afterCpim = raw.slice(first).replace(/^\r?\n\r?\n/, "");
    const second = afterCpim.search(/\r?\n\r?\n/);
    if (second < 0) return { status: 400, reason: "Bad CPIM" };
    const mimeHeaders = afterCpim.slice(0, second);
    const innerType = /^content-type\s*:\s*(.+)$/im.exec(mimeHeaders)?.[1]?.trim() ?? "text/plain";
    const contentStart = body.length - Buffer.byteLength(afterCpim.slice(second).replace(/^\r?\n\r?\n/, ""), "latin1");
    return unwrapText(innerType, body.subarray(contentStart), depth + 1);
  }
  return { status: 415, reason: "Unsupported Media Type" };
}
