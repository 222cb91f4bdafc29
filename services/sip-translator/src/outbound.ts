/**
 * Outbound messaging (ARCHITECTURE.md "Outbound"): a SIP MESSAGE from an internal user to an
 * address at a partner's domain becomes an XMPP <message/> (RFC 7572 §5), is authorised by policy,
 * and is handed to an edge listener, which writes it to an s2s stream. The SIP request is answered
 * 200 once the edge has written it, otherwise with the RFC 7247 §8 mapping of the refusal or the
 * failure. Messages of one conversation are authorised and handed over in the order they arrived.
 * Sockets and the bus are behind functions, so this runs in tests without either.
 */
import type { OutboundAuthorizeReply, OutboundAuthorizeRequest, OutboundDeliverReply, OutboundStanza, StanzaErrorInfo } from "@passerelle/contracts";
import { reasonPhrase, type SipRequest } from "@passerelle/sip";
import { Jid, serialize, type Element } from "@passerelle/xmpp";
import type { AddressMapper } from "./domain/address-mapping.ts";
import { sipStatusForXmppError } from "./domain/error-mapping.ts";
import { KeyedChain } from "./domain/keyed-chain.ts";
import { sipMessageToXmpp } from "./domain/message-mapping.ts";
import { chatStateOf } from "./domain/chat-states.ts";
import { conversationOf, type ChatStateMemory } from "./domain/chat-state-memory.ts";

export interface OutboundOptions {
  mapper: AddressMapper;
  /** Our XMPP domains: a sender must be at one of them. */
  localDomains: ReadonlySet<string>;
  authorize: (request: OutboundAuthorizeRequest) => Promise<OutboundAuthorizeReply>;
  /** Resolves when an edge answers; rejects when none does (bus timeout). */
  deliver: (request: OutboundStanza) => Promise<OutboundDeliverReply>;
  newId: () => string;
  maxStanzaBytes: number;
  /** Most messages being handled at once; more are answered 503. */
  maxPending: number;
  /** The last chat state sent per conversation (XEP-0085 §5.3: no repeats); without it, every one is sent. */
  chatStates?: ChatStateMemory;
  onOutcome?: (outcome: OutboundAnswer, detail: { id?: string; from?: string; to?: string; condition?: string; reason?: string }) => void;
}

export interface OutboundAnswer {
  status: number;
  reason: string;
}

export class OutboundMessaging {
  private readonly chain = new KeyedChain();
  private pending = 0;

  constructor(private readonly o: OutboundOptions) {}

  /** The SIP answer to a MESSAGE routed to us. Never rejects. */
  async handle(request: SipRequest): Promise<OutboundAnswer> {
    if (this.pending >= this.o.maxPending) return this.answer(503, {}, "too many messages in progress");
    this.pending++;
    try {
      return await this.run(request);
    } catch (err) {
      return this.answer(500, {}, String(err));
    } finally {
      this.pending--;
    }
  }

  private async run(request: SipRequest): Promise<OutboundAnswer> {
    const id = this.o.newId();
    // RFC 7572 §5: the SIP MESSAGE (text/plain, or message/cpim around it) becomes a <message type='chat'/>.
    const mapped = sipMessageToXmpp(request, this.o.mapper, { id });
    if (mapped.outcome === "rejected") return this.answer(mapped.status, { id }, mapped.reason, mapped.reason);
    const stanza = mapped.stanza;
    const from = stanza.attrs.from ?? "";
    const to = stanza.attrs.to ?? "";
    let sender: Jid;
    let recipient: Jid;
    try {
      sender = Jid.parse(from);
      recipient = Jid.parse(to);
    } catch (err) {
      return this.answer(400, { id }, (err as Error).message);
    }
    if (!this.o.localDomains.has(sender.domain)) return this.answer(403, { id, from, to }, "the sender is not at one of our domains");
    const xml = serialize(stanza);
    if (Buffer.byteLength(xml, "utf8") > this.o.maxStanzaBytes) return this.answer(413, { id, from, to }, "the message is larger than the stanza limit");

    const detail = { id, from, to };
    // XEP-0085 §5.3: an RFC 3994 refresh of "active" (or a second "idle") would repeat the last
    // standalone chat state sent on this conversation: answered 200, not sent again.
    const conversation = conversationOf(from, to);
    const chatState = standaloneChatState(stanza);
    if (chatState !== undefined && this.o.chatStates?.isRepeat(conversation, chatState) === true) {
      return this.answer(200, detail, "repeated chat state (XEP-0085 §5.3): not sent again");
    }
    // The authorisations of one conversation are asked at once (pipelined over the bus); the
    // hand-overs to the edge take turns in arrival order (the chain), each after its own verdict;
    // the answer of the edge is awaited outside the chain so that messages queue at the edge.
    const key = `${sender.bare().toString()}|${recipient.bare().toString()}`;
    const asked = this.o.authorize({ v: 1, id, kind: "message", type: "chat", from, to }).then(
      (verdict) => ({ verdict }),
      (err: unknown) => ({ failure: err as Error }),
    );
    const step = await this.chain.run(key, async () => {
      const answered = await asked;
      if ("failure" in answered) return { kind: "unanswered", reason: `policy did not answer: ${answered.failure.message}` } as const;
      const verdict: OutboundAuthorizeReply = answered.verdict;
      if (!verdict.allowed) return { kind: "refused", error: verdict.error ?? { type: "auth", condition: "forbidden" } } as const;
      const outbound: OutboundStanza = { v: 1, id, localDomain: sender.domain, remoteDomain: recipient.domain, type: "chat", xml };
      return { kind: "handed", delivery: this.o.deliver(outbound) } as const;
    });
    if (step.kind === "unanswered") return this.answer(503, detail, step.reason);
    if (step.kind === "refused") return this.refused(step.error, detail);
    let reply: OutboundDeliverReply;
    try {
      reply = await step.delivery;
    } catch (err) {
      // No edge listener answered in time: to the sender, the remote server timed out.
      return this.refused({ type: "wait", condition: "remote-server-timeout", text: `no edge listener answered: ${(err as Error).message}` }, detail);
    }
    if (reply.outcome === "sent") {
      // A text message ends composing (RFC 3994): the next idle (→ <paused/>) need not be sent.
      this.o.chatStates?.sent(conversation, chatState ?? "paused");
      return this.answer(200, detail);
    }
    return this.refused(reply.error ?? { type: "cancel", condition: "undefined-condition" }, detail);
  }

  // RFC 7247 §8.1: the XMPP error condition becomes the SIP response code.
  private refused(error: StanzaErrorInfo, detail: { id?: string; from?: string; to?: string }): OutboundAnswer {
    return this.answer(sipStatusForXmppError(error.condition), { ...detail, condition: error.condition }, error.text);
  }

  private answer(status: number, detail: { id?: string; from?: string; to?: string; condition?: string }, reason?: string, phrase?: string): OutboundAnswer {
    const answer = { status, reason: phrase ?? reasonPhrase(status) };
    this.o.onOutcome?.(answer, reason === undefined ? detail : { ...detail, reason });
    return answer;
  }
}

/** The chat state of a message that carries nothing else (a standalone notification, XEP-0085 §5.6). */
function standaloneChatState(stanza: Element): string | undefined {
  const children = stanza.children.filter((c): c is Element => typeof c !== "string");
  if (children.length !== 1 || children.some((c) => c.getName() === "body")) return undefined;
  return chatStateOf(stanza);
}
