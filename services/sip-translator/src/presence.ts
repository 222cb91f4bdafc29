/**
 * Presence across the gateway, both ways (RFC 8048; RFC 6121 subscriptions; RFC 3856 / RFC 6665
 * SUBSCRIBE and NOTIFY), with the partner types' rules (MISSION §1):
 *
 * - XMPP contact → internal user: the contact's <presence type='subscribe'/> is approved (Federated,
 *   Public verified, or a Public unverified contact the user authorised) or held; once approved the
 *   gateway SUBSCRIBEs to the user's presence at the presence server on the contact's behalf, and
 *   every NOTIFY becomes a <presence/> to the contact (the status note only for Federated partners).
 * - internal user → XMPP contact: the user's SUBSCRIBE (routed to us by the SIP proxy) becomes
 *   <presence type='subscribe'/>; we answer 202 and NOTIFY the watcher (pending, then active with
 *   the contact's presence as it arrives).
 *
 * The state machine and the mappings are pure (domain/); this file carries out their actions. The
 * records live in a PresenceStore (Redis); steps of one (user, contact) pair run one at a time.
 */
import type {
  ContactStatusReply,
  ContactStatusRequest,
  OutboundAuthorizeReply,
  OutboundAuthorizeRequest,
  OutboundDeliverReply,
  OutboundStanza,
  PartnerKind,
  SipDeliveryRequest,
  SipDeliveryResult,
} from "@passerelle/contracts";
import { buildSipMessage } from "./domain/message-mapping.ts";
import { generateCallId, generateTag, parseNameAddr, formatUri, reasonPhrase, type ClientTransactionResult, type SipRequest } from "@passerelle/sip";
import { Jid, serialize, xml, type Element } from "@passerelle/xmpp";
import type { PairRecord, PresenceStore, WatchDialog, WatcherDialog } from "./adapters/presence-store.ts";
import { pairKey } from "./adapters/presence-store.ts";
import type { AddressMapper } from "./domain/address-mapping.ts";
import { sipStatusForXmppError, xmppError } from "./domain/error-mapping.ts";
import { KeyedChain } from "./domain/keyed-chain.ts";
import {
  buildXmppPresence,
  noteVisibleTo,
  PidfError,
  pidfToPresence,
  presenceToPidf,
  readXmppPresence,
  tupleIdForResource,
  type PresenceInfo,
} from "./domain/presence-mapping.ts";
import {
  buildSipNotify,
  buildSipSubscribe,
  classifySipNotify,
  classifySipSubscribe,
  reduceSubscription,
  subscriptionFlags,
  type NotifyState,
  type SubscriptionAction,
  type SubscriptionEvent,
  type SubscriptionState,
} from "./domain/subscription-state.ts";

/** An answer to a SIP request, and work to do once it is sent (e.g. the first NOTIFY, RFC 6665 §4.2.1.2). */
export interface SipAnswer {
  status: number;
  reason: string;
  headers?: [string, string][];
  /** The To-tag to give (dialog-creating answers). */
  toTag?: string;
  after?: () => Promise<void>;
}

export interface PresenceOptions {
  mapper: AddressMapper;
  localDomains: ReadonlySet<string>;
  store: PresenceStore;
  /** Our SIP Contact URI, e.g. sip:127.0.0.3:5070;transport=udp. */
  contactUri: string;
  gatewayHost: string;
  sipSend: (request: SipRequest) => Promise<ClientTransactionResult>;
  deliverXmpp: (stanza: OutboundStanza) => Promise<OutboundDeliverReply>;
  authorize: (request: OutboundAuthorizeRequest) => Promise<OutboundAuthorizeReply>;
  contactStatus: (request: ContactStatusRequest) => Promise<ContactStatusReply>;
  newId: () => string;
  now?: () => number;
  /** Largest PIDF body read (bytes); bigger → 413. */
  maxPidfBytes: number;
  /** Lifetime asked for the gateway's SUBSCRIBEs to the presence server (s). */
  subscribeExpires: number;
  /** The longest subscription granted to an internal watcher (s); it refreshes before then. */
  maxWatcherExpires: number;
  /** Most subscription requests held for one user's approval; more are not kept. */
  maxHeldPerUser: number;
  /** gateway.timeouts.subscriptionRefresh: how often a contact we watch is probed again (ms). */
  probeIntervalMs: number;
  /**
   * Tell the internal user, by a SIP MESSAGE from the contact's address, that a contact's request
   * waits for their authorisation (once per request): SIP clients have no standard place for it
   * without presence.winfo, and a held request the user never hears of is never approved.
   */
  tellUserOfRequests?: boolean;
  /** Told of each thing done or refused, for logs and metrics. */
  onEvent?: (event: PresenceEvent) => void;
}

export interface PresenceEvent {
  kind: string;
  outcome: "ok" | "refused" | "failed" | "ignored";
  user?: string;
  contact?: string;
  status?: number;
  detail?: string;
}

/** Most resources of one contact remembered. */
const MAX_RESOURCES = 16;
/** Most contacts of one user re-checked after an allow-list change. */
const MAX_RECHECKED = 5000;
/** The longest wait before a watch the presence server refused is tried again (ms). */
const MAX_WATCH_RETRY_MS = 60_000;
const ALLOW_EVENTS: [string, string] = ["Allow-Events", "presence"];

const flagsOf = subscriptionFlags;
const pendingOut = (state: SubscriptionState): boolean => subscriptionFlags(state).pendingOut;

export class PresenceService {
  private readonly chain = new KeyedChain();
  private readonly now: () => number;

  constructor(private readonly o: PresenceOptions) {
    this.now = o.now ?? Date.now;
  }

  // ---- XMPP → SIP ----

  /** A <presence/> from a partner contact to an internal user, authorised by policy. Never rejects. */
  async fromXmpp(request: SipDeliveryRequest, stanza: Element): Promise<SipDeliveryResult> {
    const id = request.id;
    let user: Jid;
    let contactFull: Jid;
    try {
      user = Jid.parse(request.to).bare();
      contactFull = Jid.parse(request.from);
    } catch {
      return { v: 1, id, outcome: "failed", error: xmppError("jid-malformed") };
    }
    const contact = contactFull.bare();
    // Presence to or from a bare domain (a server, not a person) has no SIP presentity.
    if (user.local === undefined || contact.local === undefined) return { v: 1, id, outcome: "ignored" };
    const u = user.toString();
    const c = contact.toString();
    // Policy always says; a request without it gets the strictest rules.
    const partnerType: PartnerKind = request.partnerType ?? "public-unverified";
    const type = stanza.attrs.type;
    switch (type) {
      case "subscribe":
      case "subscribed":
      case "unsubscribe":
      case "unsubscribed":
        await this.chain.run(pairKey(u, c), () =>
          this.applyEvent(u, c, partnerType, { direction: "inbound", type }, request.contactAuthorised === true),
        );
        return { v: 1, id, outcome: "delivered" };
      case "probe":
        await this.chain.run(pairKey(u, c), () => this.answerProbe(u, c, partnerType));
        return { v: 1, id, outcome: "delivered" };
      case undefined:
      case "unavailable": {
        const info = readXmppPresence(stanza);
        if (info === null) return { v: 1, id, outcome: "ignored" };
        const delivered = await this.chain.run(pairKey(u, c), () => this.contactPresence(u, c, contactFull.resource ?? "", info));
        return { v: 1, id, outcome: delivered ? "delivered" : "ignored" };
      }
      default:
        // RFC 6121 §4.7.1: other types (error) are not presence to translate.
        return { v: 1, id, outcome: "ignored" };
    }
  }

  /**
   * The user changed the allow-list: held subscriptions the user now authorises are approved, and
   * Public unverified contacts the user no longer authorises (and does not watch) lose theirs.
   */
  async allowListChanged(user: string): Promise<void> {
    for (const contact of (await this.o.store.guarded(user)).slice(0, MAX_RECHECKED)) {
      let status: ContactStatusReply;
      try {
        status = await this.o.contactStatus({ v: 1, user, contact });
      } catch (err) {
        this.o.onEvent?.({ kind: "release", outcome: "failed", user, contact, detail: `policy did not answer: ${(err as Error).message}` });
        continue;
      }
      await this.chain.run(pairKey(user, contact), async () => {
        const record = await this.o.store.get(user, contact);
        if (record === undefined) return;
        const f = flagsOf(record.state);
        const partnerType = status.partnerType ?? record.partnerType;
        if (status.authorised && f.pendingIn) {
          // MISSION §1: an authorisation by the user is the user's approval (RFC 6121 §3.1.4 "subscribed").
          await this.applyEvent(user, contact, partnerType, { direction: "outbound", type: "subscribed" }, true);
          this.o.onEvent?.({ kind: "release", outcome: "ok", user, contact });
        } else if (!status.authorised && partnerType === "public-unverified" && f.from && !f.to && !pendingOut(record.state)) {
          // The user took the authorisation back: RFC 6121 §3.2.2 revocation (unavailable while still subscribed, then unsubscribed).
          await this.applyEvent(user, contact, partnerType, { direction: "outbound", type: "unsubscribed" }, false);
          this.o.onEvent?.({ kind: "revoke", outcome: "ok", user, contact });
        }
      });
    }
  }

  // ---- SIP → XMPP ----

  /** SUBSCRIBE from an internal watcher or NOTIFY from the presence server. Never rejects. */
  async fromSip(request: SipRequest): Promise<SipAnswer> {
    try {
      if (request.method === "NOTIFY") return await this.onNotify(request);
      if (request.method === "SUBSCRIBE") return await this.onSubscribe(request);
      return this.refuse("sip", 405, "method not handled here");
    } catch (err) {
      return this.refuse(request.method.toLowerCase(), 500, String(err));
    }
  }

  private async onNotify(request: SipRequest): Promise<SipAnswer> {
    const callId = request.headers.get("call-id") ?? "";
    const pair = await this.o.store.byCall(callId);
    // RFC 6665 §4.1.3: a NOTIFY for no subscription of ours is answered 481.
    if (pair === undefined) return this.refuse("notify", 481, "no subscription with this Call-ID");
    const meaning = classifySipNotify(request);
    if (meaning.kind === "rejected") return this.refuse("notify", meaning.status, meaning.reason, pair, [ALLOW_EVENTS]);
    if (request.body.length > this.o.maxPidfBytes) return this.refuse("notify", 413, `PIDF body of ${request.body.length} bytes (limit ${this.o.maxPidfBytes})`, pair);
    let info: PresenceInfo | undefined;
    if (meaning.kind === "presence" && meaning.state === "active") {
      try {
        // An active NOTIFY without a body: nothing published for the user, i.e. offline.
        info = meaning.pidf === undefined ? { available: false } : pidfToPresence(meaning.pidf, { includeNote: true, maxBytes: this.o.maxPidfBytes });
      } catch (err) {
        if (!(err instanceof PidfError)) throw err;
        return this.refuse("notify", 400, err.message, pair);
      }
    }
    const { user, contact } = pair;
    let resubscribe = false;
    let known = true;
    await this.chain.run(pairKey(user, contact), async () => {
      const record = await this.o.store.get(user, contact);
      if (record?.watch?.callId !== callId) {
        known = false;
        return;
      }
      if (record.watch.toTag === undefined) {
        const tag = parseNameAddr(request.headers.get("from") ?? "").params.get("tag");
        if (typeof tag === "string") record.watch.toTag = tag;
      }
      if (meaning.kind === "ended") {
        delete record.watch;
        await this.o.store.unbindCall(callId);
        if (meaning.event !== undefined) {
          // RFC 8048 §5.3: the presence server refused the watch: the user revoked (or never gave) the subscription.
          await this.save(record);
          await this.applyEvent(user, contact, record.partnerType, meaning.event, false);
          return;
        }
        resubscribe = meaning.resubscribe && flagsOf(record.state).from;
        await this.save(record);
        return;
      }
      if (info !== undefined) {
        record.userPresence = info;
        if (flagsOf(record.state).from) this.sendUserPresence(record, info);
      }
      await this.save(record);
    });
    // A dialog the pair has since replaced or ended (RFC 6665 §4.1.3: 481 ends it at the notifier).
    if (!known) return this.refuse("notify", 481, "the subscription of this dialog has ended", pair);
    this.o.onEvent?.({ kind: "notify", outcome: "ok", user, contact, status: 200, ...(info === undefined ? {} : { detail: info.available ? (info.show ?? "available") : "unavailable" }) });
    return {
      status: 200,
      reason: "OK",
      ...(resubscribe ? { after: () => this.chain.run(pairKey(user, contact), () => this.restartWatch(user, contact)) } : {}),
    };
  }

  private async onSubscribe(request: SipRequest): Promise<SipAnswer> {
    const callId = request.headers.get("call-id") ?? "";
    let toTag: string | undefined;
    let fromTag: string | undefined;
    try {
      const t = parseNameAddr(request.headers.get("to") ?? "").params.get("tag");
      const f = parseNameAddr(request.headers.get("from") ?? "").params.get("tag");
      toTag = typeof t === "string" ? t : undefined;
      fromTag = typeof f === "string" ? f : undefined;
    } catch (err) {
      return this.refuse("subscribe", 400, `bad From or To: ${(err as Error).message}`);
    }
    const inDialog = toTag !== undefined;
    const meaning = classifySipSubscribe(request, inDialog);
    if (meaning.kind === "rejected") return this.refuse("subscribe", meaning.status, meaning.reason, undefined, [ALLOW_EVENTS]);
    if (inDialog) {
      const pair = await this.o.store.byCall(callId);
      if (pair === undefined) return this.refuse("subscribe", 481, "no subscription with this Call-ID");
      const { user, contact } = pair;
      return this.chain.run(pairKey(user, contact), async () => {
        const record = await this.o.store.get(user, contact);
        if (record?.watcher?.callId !== callId || record.watcher.localTag !== toTag) return this.refuse("subscribe", 481, "no such subscription", pair);
        if (meaning.kind === "refresh") {
          const expires = Math.min(meaning.expires, this.o.maxWatcherExpires);
          record.watcher.expiresAt = this.now() + expires * 1000;
          await this.save(record);
          await this.o.store.bindCall(callId, user, contact, expires + 60);
          this.o.onEvent?.({ kind: "subscribe", outcome: "ok", user, contact, status: 200, detail: "refresh" });
          // RFC 6665 §4.2.1.2: each accepted SUBSCRIBE is followed by a NOTIFY with the current state.
          return { status: 200, reason: "OK", headers: [["Expires", String(expires)], ["Contact", `<${this.o.contactUri}>`]], after: () => this.chain.run(pairKey(user, contact), () => this.notifyCurrent(user, contact)) };
        }
        return this.userUnsubscribes(record, request);
      });
    }
    if (meaning.kind !== "event") return this.refuse("subscribe", 400, "unexpected SUBSCRIBE");
    // RFC 7247 §5.3: the watcher (From) is an internal user, the Request-URI the XMPP contact.
    let user: string;
    let contact: string;
    let watcherUri: string;
    try {
      const fromAddr = parseNameAddr(request.headers.get("from") ?? "");
      watcherUri = formatUri(fromAddr.uri);
      const u = this.o.mapper.sipUriToJid(fromAddr.uri).bare();
      const c = this.o.mapper.sipUriToJid(request.uri).bare();
      if (!this.o.localDomains.has(u.domain)) return this.refuse("subscribe", 403, "the watcher is not at one of our domains");
      if (this.o.localDomains.has(c.domain)) return this.refuse("subscribe", 404, "the presentity is not an XMPP contact");
      user = u.toString();
      contact = c.toString();
    } catch (err) {
      return this.refuse("subscribe", 400, `addresses cannot be mapped: ${(err as Error).message}`);
    }
    const contactHeader = request.headers.get("contact");
    let target: string;
    try {
      if (contactHeader === undefined) throw new Error("no Contact");
      target = formatUri(parseNameAddr(contactHeader).uri);
    } catch (err) {
      return this.refuse("subscribe", 400, `bad Contact: ${(err as Error).message}`, { user, contact });
    }
    if (fromTag === undefined) return this.refuse("subscribe", 400, "From without tag", { user, contact });
    const type = meaning.event.type;
    if (type === "unsubscribe") {
      // RFC 6665 §4.4.3: an out-of-dialog Expires: 0 is a fetch: one NOTIFY with the current state, no change.
      const once: WatcherDialog = { ...this.watcherDialog(request, callId, target), cseq: 1, expiresAt: this.now() };
      this.o.onEvent?.({ kind: "subscribe", outcome: "ok", user, contact, status: 200, detail: "fetch" });
      return {
        status: 200,
        reason: "OK",
        toTag: once.localTag,
        headers: [["Expires", "0"], ["Contact", `<${this.o.contactUri}>`], ...once.routes.map((r): [string, string] => ["Record-Route", r])],
        after: async () => {
          const record = await this.o.store.get(user, contact);
          const view = record !== undefined && flagsOf(record.state).to ? this.contactPidf(record) : undefined;
          await this.sendNotify(user, contact, once, { state: "terminated", reason: "timeout" }, view);
        },
      };
    }
    let verdict: OutboundAuthorizeReply;
    try {
      verdict = await this.o.authorize({ v: 1, id: this.o.newId(), kind: "presence", type: "subscribe", from: user, to: contact });
    } catch (err) {
      return this.refuse("subscribe", 503, `policy did not answer: ${(err as Error).message}`, { user, contact });
    }
    if (!verdict.allowed) {
      const error = verdict.error ?? { type: "auth" as const, condition: "forbidden" };
      return this.refuse("subscribe", sipStatusForXmppError(error.condition), error.text ?? error.condition, { user, contact });
    }
    // RFC 6665 §4.2.1.1: the notifier may shorten the duration asked for.
    const requested = Number(request.headers.get("expires") ?? this.o.maxWatcherExpires);
    const expires = Math.min(Number.isFinite(requested) ? requested : this.o.maxWatcherExpires, this.o.maxWatcherExpires);
    const watcher: WatcherDialog = { ...this.watcherDialog(request, callId, target), expiresAt: this.now() + expires * 1000 };
    const localTag = watcher.localTag;
    return this.chain.run(pairKey(user, contact), async () => {
      const record = (await this.o.store.get(user, contact)) ?? this.fresh(user, contact, verdict.partnerType ?? "public-unverified");
      if (verdict.partnerType !== undefined) record.partnerType = verdict.partnerType;
      const old = record.watcher;
      if (old !== undefined && old.callId !== callId) await this.o.store.unbindCall(old.callId);
      record.watcher = watcher;
      await this.o.store.bindCall(callId, user, contact, expires + 60);
      const result = reduceSubscription(record.state, { direction: "outbound", type: "subscribe" }, { partnerType: record.partnerType, authorisedByUser: true });
      record.state = result.state;
      await this.save(record);
      this.o.onEvent?.({ kind: "subscribe", outcome: "ok", user, contact, status: 202, detail: `${watcherUri} now ${result.state}` });
      // RFC 6665 §4.2.1.1: 202 (the subscription may still be pending), then the NOTIFYs.
      return {
        status: 202,
        reason: "Accepted",
        toTag: localTag,
        // RFC 3261 §12.1.1: the dialog-creating answer copies the Record-Route, so in-dialog requests follow the proxy.
        headers: [["Expires", String(expires)], ["Contact", `<${this.o.contactUri}>`], ...watcher.routes.map((r): [string, string] => ["Record-Route", r])],
        after: () => this.chain.run(pairKey(user, contact), () => this.carryOut(user, contact, result.actions)),
      };
    });
  }

  /** The dialog a SUBSCRIBE creates at us, the notifier (RFC 3261 §12.1.1, RFC 6665 §4.2.1). */
  private watcherDialog(request: SipRequest, callId: string, target: string): Omit<WatcherDialog, "expiresAt"> {
    return {
      callId,
      localTag: generateTag(),
      remote: request.headers.get("from") ?? "",
      local: request.headers.get("to") ?? "",
      target,
      routes: request.headers.getAll("record-route"),
      cseq: 0,
    };
  }

  private async userUnsubscribes(record: PairRecord, request: SipRequest): Promise<SipAnswer> {
    const { user, contact } = record;
    const result = reduceSubscription(record.state, { direction: "outbound", type: "unsubscribe" }, { partnerType: record.partnerType, authorisedByUser: true });
    record.state = result.state;
    // The watcher asking to stop gets its final NOTIFY (terminated) even when it had no dialog with us.
    if (record.watcher === undefined || record.watcher.callId !== request.headers.get("call-id")) {
      result.actions = result.actions.filter((a) => a.kind !== "sip-notify");
    }
    await this.save(record);
    this.o.onEvent?.({ kind: "subscribe", outcome: "ok", user, contact, status: 200, detail: "unsubscribe" });
    return {
      status: 200,
      reason: "OK",
      headers: [["Expires", "0"], ["Contact", `<${this.o.contactUri}>`]],
      after: () => this.chain.run(pairKey(user, contact), () => this.carryOut(user, contact, result.actions)),
    };
  }

  // ---- state changes and their actions ----

  private fresh(user: string, contact: string, partnerType: PartnerKind): PairRecord {
    return { user, contact, state: "none", partnerType };
  }

  /** One subscription event on the pair: reduce, save, carry out the actions. Runs inside the pair's chain. */
  private async applyEvent(user: string, contact: string, partnerType: PartnerKind, event: SubscriptionEvent, authorised: boolean): Promise<void> {
    const record = (await this.o.store.get(user, contact)) ?? this.fresh(user, contact, partnerType);
    record.partnerType = partnerType;
    const result = reduceSubscription(record.state, event, { partnerType, authorisedByUser: authorised });
    const before = record.state;
    if (result.actions.some((a) => a.kind === "hold-for-approval") && (await this.o.store.held(user)).length >= this.o.maxHeldPerUser) {
      // A bound on what strangers can make us keep: over it, new requests are not held (the contact may ask again later).
      this.o.onEvent?.({ kind: "hold", outcome: "refused", user, contact, detail: `more than ${this.o.maxHeldPerUser} requests already wait for this user` });
      return;
    }
    record.state = result.state;
    // The contact's presence is only kept while the user sees it (or asked to).
    if (!flagsOf(record.state).to && !pendingOut(record.state)) delete record.contactPresence;
    await this.save(record);
    this.o.onEvent?.({ kind: `${event.direction}-${event.type}`, outcome: "ok", user, contact, detail: `${before} → ${result.state}` });
    await this.carryOut(user, contact, result.actions, { newlyHeld: !flagsOf(before).pendingIn && flagsOf(record.state).pendingIn });
  }

  private async carryOut(user: string, contact: string, actions: readonly SubscriptionAction[], context: { newlyHeld?: boolean } = {}): Promise<void> {
    for (const action of actions) {
      switch (action.kind) {
        case "xmpp-send":
          this.sendXmpp(user, contact, action.type === "unavailable" ? { type: "unavailable" } : { type: action.type });
          break;
        case "hold-for-approval":
          this.o.onEvent?.({ kind: "hold", outcome: "ok", user, contact, detail: "waiting for the user's authorisation" });
          if (context.newlyHeld === true && this.o.tellUserOfRequests === true) this.tellUserOfRequest(user, contact);
          break;
        case "sip-watch-start":
          await this.startWatch(user, contact);
          break;
        case "sip-watch-stop":
          await this.stopWatch(user, contact);
          break;
        case "sip-notify":
          await this.notifyWatcher(user, contact, action.state === "terminated" ? { state: "terminated", ...(action.reason ? { reason: action.reason } : {}) } : undefined);
          break;
      }
    }
  }

  private async save(record: PairRecord): Promise<void> {
    const f = flagsOf(record.state);
    if (record.state === "none" && record.watch === undefined && record.watcher === undefined) {
      await this.o.store.remove(record.user, record.contact);
      return;
    }
    const times: number[] = [];
    if (record.watch !== undefined) times.push(this.watchRefreshAt(record.watch));
    // A watch the presence server did not take is tried again, backing off (1 s, 2 s, … 60 s).
    else if (f.from) times.push(this.now() + Math.min(MAX_WATCH_RETRY_MS, 1000 * 2 ** Math.min(6, record.watchFailures ?? 0)));
    if (record.watcher !== undefined) times.push(record.watcher.expiresAt);
    if (f.to) times.push((record.probedAt ?? this.now()) + this.o.probeIntervalMs);
    if (f.to && record.probedAt === undefined) record.probedAt = this.now();
    const guarded = record.partnerType === "public-unverified" && (f.pendingIn || f.from);
    await this.o.store.put(record, { held: f.pendingIn, guarded }, times.length === 0 ? undefined : Math.min(...times));
  }

  // The XMPP <presence/> from the internal user to the contact (RFC 6121 §3, §4).
  private sendXmpp(user: string, contact: string, what: { type: string } | { info: PresenceInfo; includeNote: boolean }): void {
    const id = this.o.newId();
    const stanza =
      "info" in what
        ? buildXmppPresence(what.info, { from: user, to: contact, id }, { includeNote: what.includeNote })
        : xml("presence", { from: user, to: contact, id, type: what.type });
    const type = stanza.attrs.type as string | undefined;
    const out: OutboundStanza = {
      v: 1,
      id,
      localDomain: Jid.parse(user).domain,
      remoteDomain: Jid.parse(contact).domain,
      ...(type === undefined ? {} : { type }),
      xml: serialize(stanza),
    };
    // Not awaited: stanzas to one domain leave in the order they are handed over; the answer is only logged.
    this.o.deliverXmpp(out).then(
      (reply) => this.o.onEvent?.({ kind: "xmpp-send", outcome: reply.outcome === "sent" ? "ok" : "failed", user, contact, detail: `${type ?? "available"}${reply.error ? ": " + reply.error.condition : ""}` }),
      (err: unknown) => this.o.onEvent?.({ kind: "xmpp-send", outcome: "failed", user, contact, detail: `${type ?? "available"}: ${String(err)}` }),
    );
  }

  private sendUserPresence(record: PairRecord, info: PresenceInfo): void {
    // MISSION §1: only Federated partners see the internal user's status note.
    this.sendXmpp(record.user, record.contact, { info, includeNote: noteVisibleTo(record.partnerType) });
  }

  // RFC 6121 §4.3.2: a probe from a subscribed contact is answered with the user's current presence.
  private async answerProbe(user: string, contact: string, partnerType: PartnerKind): Promise<void> {
    const record = await this.o.store.get(user, contact);
    if (record === undefined || !flagsOf(record.state).from) {
      // RFC 6121 §4.3.2.1: no subscription: nothing about the user's presence leaks.
      this.o.onEvent?.({ kind: "probe", outcome: "ignored", user, contact, detail: "the contact is not subscribed" });
      return;
    }
    record.partnerType = partnerType;
    if (record.userPresence !== undefined) this.sendUserPresence(record, record.userPresence);
    this.o.onEvent?.({ kind: "probe", outcome: "ok", user, contact });
  }

  /** The contact's presence changed; true when a watcher was told. */
  private async contactPresence(user: string, contact: string, resource: string, info: PresenceInfo): Promise<boolean> {
    const record = await this.o.store.get(user, contact);
    // Kept while the user's request is pending too: the contact's server sends "subscribed" and then its
    // presence, and the two may be handled out of order on the way here.
    if (record === undefined || !(flagsOf(record.state).to || pendingOut(record.state))) {
      this.o.onEvent?.({ kind: "contact-presence", outcome: "ignored", user, contact, detail: "the user is not subscribed to the contact" });
      return false;
    }
    const known = { ...(record.contactPresence ?? {}) };
    if (info.available) known[resource] = info;
    else delete known[resource];
    const names = Object.keys(known);
    if (names.length > MAX_RESOURCES) for (const n of names.slice(0, names.length - MAX_RESOURCES)) delete known[n];
    record.contactPresence = known;
    await this.save(record);
    if (record.watcher === undefined || !flagsOf(record.state).to) return false;
    await this.notifyWatcher(user, contact, undefined);
    return true;
  }

  /** The contact's presence as one state: the available resource of highest priority, else unavailable. */
  private contactState(record: PairRecord): { info: PresenceInfo; resource: string } | undefined {
    const known = record.contactPresence;
    if (known === undefined) return undefined;
    let best: { info: PresenceInfo; resource: string } | undefined;
    for (const [resource, info] of Object.entries(known)) {
      if (best === undefined || (info.priority ?? 0) > (best.info.priority ?? 0)) best = { info, resource };
    }
    return best ?? { info: { available: false }, resource: "" };
  }

  private async notifyCurrent(user: string, contact: string): Promise<void> {
    await this.notifyWatcher(user, contact, undefined);
  }

  // RFC 6665 §4.2.2 / RFC 8048 §5.3: a NOTIFY in the watcher's dialog; pending until the contact approves.
  private async notifyWatcher(user: string, contact: string, terminated: NotifyState | undefined): Promise<void> {
    const record = await this.o.store.get(user, contact);
    const w = record?.watcher;
    if (record === undefined || w === undefined) return;
    const left = Math.max(0, Math.round((w.expiresAt - this.now()) / 1000));
    let state: NotifyState;
    let pidf: string | undefined;
    if (terminated !== undefined) state = terminated;
    else if (left === 0) state = { state: "terminated", reason: "timeout" };
    else if (flagsOf(record.state).to) {
      state = { state: "active", expires: left };
      pidf = this.contactPidf(record);
    } else state = { state: "pending", expires: left };
    w.cseq += 1;
    if (state.state === "terminated") {
      delete record.watcher;
      await this.o.store.unbindCall(w.callId);
    }
    await this.save(record);
    const status = await this.sendNotify(user, contact, w, state, pidf);
    if (status === 481 && state.state !== "terminated") {
      // RFC 6665 §4.2.2: the watcher's dialog is gone.
      const again = await this.o.store.get(user, contact);
      if (again?.watcher?.callId === w.callId) {
        delete again.watcher;
        await this.o.store.unbindCall(w.callId);
        await this.save(again);
      }
    }
  }

  /** The contact's presence as the PIDF a watcher gets (the note only from Federated partners). */
  private contactPidf(record: PairRecord): string | undefined {
    const current = this.contactState(record);
    if (current === undefined) return undefined;
    const entity = this.o.mapper.jidToSipUriString(record.contact);
    return presenceToPidf(current.info, { entity, tupleId: tupleIdForResource(current.resource), includeNote: noteVisibleTo(record.partnerType) });
  }

  /** One NOTIFY in a watcher's dialog; resolves with the answer's status. */
  private async sendNotify(user: string, contact: string, w: WatcherDialog, state: NotifyState, pidf: string | undefined): Promise<number> {
    const draft = {
      requestUri: w.target,
      from: `${w.local};tag=${w.localTag}`,
      to: w.remote,
      callId: w.callId,
      cseq: w.cseq,
      contact: `<${this.o.contactUri}>`,
    };
    const notify = buildSipNotify(draft, state, pidf);
    // RFC 3261 §12.2.1.1: the route set (the proxy's Record-Route) goes in Route headers.
    for (const route of w.routes) notify.headers.append("Route", route);
    const answer = await this.o.sipSend(notify);
    const status = answer.response.status;
    this.o.onEvent?.({ kind: "notify-watcher", outcome: status < 300 ? "ok" : "failed", user, contact, status, detail: `${state.state}${pidf === undefined ? "" : " with PIDF"}` });
    return status;
  }

  // RFC 8048 §5.2 / RFC 3856 §6: the gateway watches the user's presence for the contact.
  private async startWatch(user: string, contact: string): Promise<void> {
    const record = await this.o.store.get(user, contact);
    if (record === undefined) return;
    if (record.watch !== undefined) await this.o.store.unbindCall(record.watch.callId);
    const watch: WatchDialog = { callId: generateCallId(this.o.gatewayHost), fromTag: generateTag(), cseq: 1, expiresAt: this.now() + this.o.subscribeExpires * 1000 };
    record.watch = watch;
    await this.o.store.bindCall(watch.callId, user, contact, this.o.subscribeExpires + 60);
    await this.save(record);
    await this.sendWatchSubscribe(record, watch, this.o.subscribeExpires);
  }

  /** A SIP MESSAGE from the contact's address telling the user how to accept; best effort, not awaited. */
  private tellUserOfRequest(user: string, contact: string): void {
    const userUri = this.o.mapper.jidToSipUriString(user);
    const contactUri = this.o.mapper.jidToSipUriString(contact);
    const request = buildSipMessage({
      requestUri: userUri,
      from: `<${contactUri}>;tag=${generateTag()}`,
      to: `<${userUri}>`,
      callId: generateCallId(this.o.gatewayHost),
      body: `${contact} would like to see your presence. Add ${contact} to your contacts to accept; until then they see nothing of it.`,
    });
    this.o.sipSend(request).then(
      (answer) => {
        const { status } = answer.response;
        this.o.onEvent?.({ kind: "request-notice", outcome: status >= 200 && status < 300 ? "ok" : "failed", user, contact, status });
      },
      (err: unknown) => this.o.onEvent?.({ kind: "request-notice", outcome: "failed", user, contact, detail: (err as Error).message }),
    );
  }

  private async sendWatchSubscribe(record: PairRecord, watch: WatchDialog, expires: number): Promise<void> {
    const { user, contact } = record;
    const userUri = this.o.mapper.jidToSipUriString(user);
    const contactUri = this.o.mapper.jidToSipUriString(contact);
    const request = buildSipSubscribe(
      {
        requestUri: watch.target ?? userUri,
        from: `<${contactUri}>;tag=${watch.fromTag}`,
        to: watch.toTag === undefined ? `<${userUri}>` : `<${userUri}>;tag=${watch.toTag}`,
        callId: watch.callId,
        cseq: watch.cseq,
        contact: `<${this.o.contactUri}>`,
      },
      expires,
    );
    const answer = await this.o.sipSend(request);
    const { status } = answer.response;
    const after = await this.o.store.get(user, contact);
    if (after?.watch?.callId !== watch.callId) return;
    if (status >= 200 && status < 300 && expires > 0) {
      const granted = Number(answer.response.headers.get("expires") ?? expires);
      after.watch.expiresAt = this.now() + (Number.isFinite(granted) && granted > 0 ? granted : expires) * 1000;
      try {
        const tag = parseNameAddr(answer.response.headers.get("to") ?? "").params.get("tag");
        if (typeof tag === "string") after.watch.toTag = tag;
        const contactHeader = answer.response.headers.get("contact");
        if (contactHeader !== undefined) after.watch.target = formatUri(parseNameAddr(contactHeader).uri);
      } catch {
        // Without a usable Contact the refresh goes to the user's address again.
      }
      delete after.watchFailures;
      await this.save(after);
      this.o.onEvent?.({ kind: "watch", outcome: "ok", user, contact, status, detail: watch.cseq === 1 ? "subscribed" : "refreshed" });
      return;
    }
    if (expires > 0) {
      // The presence server did not take the watch: the contact sees nothing; retried at the next refresh.
      delete after.watch;
      after.watchFailures = (after.watchFailures ?? 0) + 1;
      await this.o.store.unbindCall(watch.callId);
      await this.save(after);
      this.o.onEvent?.({ kind: "watch", outcome: "failed", user, contact, status, detail: `${status} ${answer.response.reason} (${answer.source})` });
    }
  }

  // RFC 6665 §4.1.2.1: refresh before the subscription ends, at 80% of the lifetime asked (at least 5 s before).
  private watchRefreshAt(watch: WatchDialog): number {
    return watch.expiresAt - Math.max(5000, this.o.subscribeExpires * 200);
  }

  private async stopWatch(user: string, contact: string): Promise<void> {
    const record = await this.o.store.get(user, contact);
    const watch = record?.watch;
    if (record === undefined || watch === undefined) return;
    delete record.watch;
    await this.o.store.unbindCall(watch.callId);
    await this.save(record);
    watch.cseq += 1;
    await this.sendWatchSubscribe(record, watch, 0);
    this.o.onEvent?.({ kind: "watch", outcome: "ok", user, contact, detail: "stopped" });
  }

  private async restartWatch(user: string, contact: string): Promise<void> {
    const record = await this.o.store.get(user, contact);
    if (record !== undefined && flagsOf(record.state).from && record.watch === undefined) await this.startWatch(user, contact);
  }

  // ---- refreshes ----

  /** Refreshes what is due: the gateway's watches, expired watchers, probes of watched contacts. */
  async sweep(limit = 200): Promise<number> {
    const due = await this.o.store.due(this.now(), limit);
    for (const { user, contact } of due) {
      await this.chain.run(pairKey(user, contact), () => this.refresh(user, contact)).catch((err: unknown) =>
        this.o.onEvent?.({ kind: "refresh", outcome: "failed", user, contact, detail: String(err) }),
      );
    }
    return due.length;
  }

  private async refresh(user: string, contact: string): Promise<void> {
    const record = await this.o.store.get(user, contact);
    if (record === undefined) {
      // A schedule left without its record: drop it.
      await this.o.store.remove(user, contact);
      return;
    }
    const now = this.now();
    const f = flagsOf(record.state);
    if (record.watcher !== undefined && record.watcher.expiresAt <= now) {
      // RFC 6665 §4.2.2: the watcher did not refresh in time.
      await this.notifyWatcher(user, contact, { state: "terminated", reason: "timeout" });
    }
    const fresh = (await this.o.store.get(user, contact)) ?? record;
    if (f.from && fresh.watch === undefined) await this.startWatch(user, contact);
    else if (fresh.watch !== undefined && this.watchRefreshAt(fresh.watch) <= now + 1000) {
      const watch = fresh.watch;
      watch.cseq += 1;
      await this.save(fresh);
      await this.sendWatchSubscribe(fresh, watch, this.o.subscribeExpires);
    }
    const latest = (await this.o.store.get(user, contact)) ?? fresh;
    if (f.to && (latest.probedAt ?? 0) + this.o.probeIntervalMs <= now) {
      // RFC 6121 §4.3: probe the contact again (gateway.timeouts.subscriptionRefresh).
      latest.probedAt = now;
      this.sendXmpp(user, contact, { type: "probe" });
    }
    await this.save(latest);
  }

  private refuse(kind: string, status: number, detail: string, pair?: { user: string; contact: string }, headers?: [string, string][]): SipAnswer {
    this.o.onEvent?.({ kind, outcome: "refused", status, detail, ...(pair ?? {}) });
    return { status, reason: reasonPhrase(status), ...(status === 489 && headers ? { headers } : {}) };
  }
}
