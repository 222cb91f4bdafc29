/**
 * One delivery: a SipDeliveryRequest from policy becomes a SIP MESSAGE to the internal proxy, and
 * the SIP answer becomes a SipDeliveryResult (RFC 7572 for the message, RFC 7247 §8 for errors).
 * Sockets are behind `send`, so this runs in tests without any.
 */
import type { SipDeliveryRequest, SipDeliveryResult } from "@passerelle/contracts";
import type { ClientTransactionResult, SipRequest } from "@passerelle/sip";
import { generateCallId, generateTag, serializedSize } from "@passerelle/sip";
import type { StreamParserLimits } from "@passerelle/xmpp";
import type { AddressMapper } from "./domain/address-mapping.ts";
import { xmppError, xmppErrorForSipStatus } from "./domain/error-mapping.ts";
import { buildSipMessage, xmppMessageToSip } from "./domain/message-mapping.ts";
import { ISCOMPOSING_CONTENT_TYPE, chatStateOf, isComposingStateFor } from "./domain/chat-states.ts";
import { conversationOf, type ChatStateMemory } from "./domain/chat-state-memory.ts";
import { parseStanza, StanzaParseError } from "./adapters/stanza-parser.ts";
import type { PresenceService } from "./presence.ts";

export interface DeliveryOptions {
  mapper: AddressMapper;
  gatewayHost: string;
  stanzaLimits: StreamParserLimits;
  /** Largest SIP message we send (the SIP package's limit: 64 KiB). */
  maxSipBytes: number;
  send: (request: SipRequest) => Promise<ClientTransactionResult>;
  /** Handles presence stanzas (RFC 8048); without it presence is ignored. */
  presence?: Pick<PresenceService, "fromXmpp">;
  /** The last chat state sent per conversation (XEP-0085 §5.3: no repeats); without it, every one is sent. */
  chatStates?: ChatStateMemory;
  /** Told of each outcome, for logs and metrics. */
  onOutcome?: (result: SipDeliveryResult, detail: { xmppId?: string; callId?: string; reason?: string }) => void;
}

export class DeliveryHandler {
  constructor(private readonly options: DeliveryOptions) {}

  /** Never rejects: an unexpected failure is answered with internal-server-error so policy can bounce the stanza. */
  async deliver(request: SipDeliveryRequest): Promise<SipDeliveryResult> {
    try {
      return await this.run(request);
    } catch (err) {
      const result: SipDeliveryResult = { v: 1, id: request.id, outcome: "failed", error: xmppError("internal-server-error") };
      this.options.onOutcome?.(result, { reason: String(err) });
      return result;
    }
  }

  private async run(request: SipDeliveryRequest): Promise<SipDeliveryResult> {
    const { id } = request;
    const report = (result: SipDeliveryResult, detail: { xmppId?: string; callId?: string; reason?: string } = {}): SipDeliveryResult => {
      this.options.onOutcome?.(result, detail);
      return result;
    };
    if (request.kind === "iq" || (request.kind === "presence" && this.options.presence === undefined)) {
      // IQ is not mapped (RFC 7247 covers messages; RFC 8048 presence).
      return report({ v: 1, id, outcome: "ignored" }, { reason: `${request.kind} not mapped` });
    }
    let stanza;
    try {
      stanza = parseStanza(request.xml, this.options.stanzaLimits);
    } catch (err) {
      if (!(err instanceof StanzaParseError)) throw err;
      return report({ v: 1, id, outcome: "failed", error: xmppError("bad-request", "stanza could not be read") }, { reason: err.message });
    }
    if (request.kind === "presence" && this.options.presence !== undefined) {
      // RFC 8048: presence and subscriptions (presence.ts).
      return report(await this.options.presence.fromXmpp(request, stanza), { reason: `presence ${request.type ?? "available"}` });
    }
    const mapped = xmppMessageToSip(stanza, {
      mapper: this.options.mapper,
      from: request.from,
      to: request.to,
      ...(request.sipDomain ? { sipDomain: request.sipDomain } : {}),
      gatewayHost: this.options.gatewayHost,
      fromTag: generateTag(),
      newCallId: () => generateCallId(this.options.gatewayHost),
    });
    if (mapped.outcome === "ignored") return report({ v: 1, id, outcome: "ignored" }, { reason: mapped.reason });
    if (mapped.outcome === "failed") return report({ v: 1, id, outcome: "failed", error: mapped.error }, { reason: mapped.reason });

    // XEP-0085 §5.3: a standalone chat state that repeats the last one sent on this conversation is
    // not sent again (paused, inactive and gone are all RFC 3994 "idle").
    const conversation = conversationOf(request.from, request.to);
    const chatState = mapped.draft.contentType === ISCOMPOSING_CONTENT_TYPE ? isComposingStateFor(chatStateOf(stanza) ?? "active") : undefined;
    if (chatState !== undefined && this.options.chatStates?.isRepeat(conversation, chatState) === true) {
      return report({ v: 1, id, outcome: "ignored" }, { reason: "repeated chat state (XEP-0085 §5.3)" });
    }

    const sip = buildSipMessage(mapped.draft);
    const detail = { ...(mapped.draft.xmppId === undefined ? {} : { xmppId: mapped.draft.xmppId }), callId: mapped.draft.callId };
    // Leave room for the Via the transaction adds.
    if (serializedSize(sip) + 256 > this.options.maxSipBytes) {
      return report({ v: 1, id, outcome: "failed", error: xmppError("policy-violation", "message too large for SIP") }, { ...detail, reason: "too large" });
    }
    const answer = await this.options.send(sip);
    const { status, reason } = answer.response;
    if (status >= 200 && status < 300) {
      // A text message implies "idle" on the SIP side (RFC 3994): the next idle need not be sent.
      this.options.chatStates?.sent(conversation, chatState ?? "idle");
      return report({ v: 1, id, outcome: "delivered", sipStatus: status, sipReason: reason }, detail);
    }
    // RFC 7247 §8.2: a SIP failure (or the local 408 of Timer F, 503 of a transport error) becomes an XMPP error.
    return report(
      { v: 1, id, outcome: "failed", sipStatus: status, sipReason: reason, error: xmppErrorForSipStatus(status, reason) },
      { ...detail, reason: answer.source },
    );
  }
}
