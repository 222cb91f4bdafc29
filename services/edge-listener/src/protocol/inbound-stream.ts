/**
 * One inbound server-to-server stream (RFC 6120 §4–§6, XEP-0178, XEP-0220), from the first byte to
 * the close. The socket, TLS, the bus and the clock are behind `InboundStreamDeps`, so the whole
 * negotiation is tested without a network. Every refusal is a stream error with a reason, a log
 * line and a metric; nothing here throws into the caller.
 */
import {
  NS,
  STREAM_CLOSE,
  StreamError,
  StreamParser,
  Jid,
  serialize,
  streamErrorElement,
  streamFeatures,
  streamHeader,
  xml,
  type Element,
  type StreamHeader,
  type StreamParserEvents,
  type StreamParserLimits,
} from "@passerelle/xmpp";
import type { Partner } from "@passerelle/config";

/** What TLS told us about the peer once the handshake finished. */
export interface PeerTls {
  /** The peer's certificate chains to our CA bundle and is valid now. */
  authorized: boolean;
  authorizationError?: string;
  /** Whether the certificate names this domain per RFC 9525 (DNS-ID, SRV-ID, xmppAddr; no CN). */
  matchesDomain(domain: string): boolean;
}

export interface StreamTransport {
  write(data: string): void;
  /** Replace the socket by a server-side TLS socket; resolves when the handshake is done. */
  startTls(): Promise<PeerTls>;
  /** Flush and close. */
  close(): void;
  readonly remoteAddress: string;
}

export interface AcceptedStanza {
  streamId: string;
  kind: "message" | "presence" | "iq";
  type: string | undefined;
  from: string;
  to: string;
  partnerDomain: string;
  localDomain: string;
  element: Element;
  bytes: number;
}

export interface InboundStreamDeps {
  transport: StreamTransport;
  localDomains: ReadonlySet<string>;
  findPartner(domain: string): Partner | undefined;
  /** Whether this edge has a certificate to offer STARTTLS with. */
  tlsAvailable: boolean;
  /**
   * XEP-0368 direct TLS: the connection is TLS from its first byte. The stream asks the transport's
   * startTls() at once (no <proceed/>), reads nothing until it is done, then never offers STARTTLS.
   */
  directTls?: boolean;
  limits: StreamParserLimits & { preAuthBytes: number };
  newStreamId(): string;
  /** XEP-0220 §2.1.2: ask the dialback authority to check a key with the originating domain. */
  authorizeDialback(req: { receiving: string; originating: string; streamId: string; key: string }): Promise<{ valid: boolean; reason?: string }>;
  /** XEP-0220 §2.2: we are the authoritative server; was this key made by us? */
  verifyDialback(req: { receiving: string; originating: string; streamId: string; key: string }): Promise<{ valid: boolean; reason?: string }>;
  /** Hand an accepted stanza on (NATS). */
  accept(stanza: AcceptedStanza): void;
  /** Lifecycle notifications for metrics, logs and the session registry. */
  events: InboundStreamEvents;
}

export interface InboundStreamEvents {
  authenticated(info: { streamId: string; domain: string; method: "sasl-external" | "dialback"; tls: boolean }): void;
  refused(info: { streamId: string | undefined; condition: string; reason: string; partner: string | undefined }): void;
  closed(info: { streamId: string | undefined; domains: string[] }): void;
}

/** "securing": between <proceed/> and the end of the TLS handshake, nothing is read. */
type State = "header" | "negotiating" | "securing" | "closed";

/** XML whitespace (RFC 6120 §4.6.1 keepalives are single spaces). */
function isWhitespace(byte: number | undefined): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

/**
 * Where the stream header ends in the bytes a parser has read (just after its '>'), given that the
 * parser accepted the header: an optional XML declaration, whitespace, then the start tag, whose
 * quoted attribute values may contain '>'. UTF-8 multi-byte sequences never contain ASCII bytes.
 */
export function streamHeaderEnd(bytes: Buffer): number | undefined {
  let i = 0;
  while (isWhitespace(bytes[i])) i++;
  if (bytes.toString("latin1", i, i + 5) === "<?xml") {
    const end = bytes.indexOf("?>", i);
    if (end < 0) return undefined;
    i = end + 2;
    while (isWhitespace(bytes[i])) i++;
  }
  if (bytes[i] !== 0x3c) return undefined;
  let quote = 0;
  for (i++; i < bytes.length; i++) {
    const c = bytes[i];
    if (quote !== 0) {
      if (c === quote) quote = 0;
    } else if (c === 0x27 || c === 0x22) {
      quote = c;
    } else if (c === 0x3e) {
      return i + 1;
    }
  }
  return undefined;
}

const SCRATCH_REGIONS: number[] = [];

/**
 * Whether `data` is exactly whitespace and the stanzas of `sizes` (in order, each starting at a
 * '<'): the parser leaves whitespace between stanzas out of their sizes.
 */
function fitsBetweenWhitespace(data: Buffer, sizes: readonly number[]): boolean {
  let at = 0;
  for (const size of sizes) {
    while (at < data.length && isWhitespace(data[at])) at++;
    if (data[at] !== 0x3c || at + size > data.length || data[at + size - 1] !== 0x3e) return false;
    at += size;
  }
  while (at < data.length && isWhitespace(data[at])) at++;
  return at === data.length;
}

export class InboundStream implements StreamParserEvents {
  /**
   * Undefined while released: an idle stream at a stanza boundary drops its parser (a few KiB) and
   * rebuilds it from `header` with the next bytes (releaseIdleParser).
   */
  private parser: StreamParser | undefined;
  /** Bytes of the current parser's input until its header was found (then undefined). */
  private beforeHeader: Buffer[] | undefined = [];
  /** The current stream's header as received (XML declaration included), to rebuild the parser. */
  private header: string | undefined;
  private headerBytes = 0;
  /** Bytes fed to the current parser, and those of the stanzas it delivered (regions, after the header). */
  private fed = 0;
  private delivered = 0;
  /** Trailing whitespace bytes of the last chunk. */
  private trailingWhitespace = 0;
  private replaying = false;
  private generation = 0;
  /** Sizes of the stanzas delivered during the current chunk, when it started at a boundary. */
  private regions: number[] | undefined;
  private state: State = "header";
  private streamId: string | undefined;
  private peerDomain: string | undefined;
  /** The domain the peer's header claimed, for logs even when it is refused. */
  private claimedDomain: string | undefined;
  private partner: Partner | undefined;
  private localDomain: string | undefined;
  private tls: PeerTls | undefined;
  private saslDone = false;
  /** Domains authenticated on this stream (dialback may add several, XEP-0220 §2.4). */
  private readonly authenticated = new Set<string>();
  private preAuthBytes = 0;
  private pendingDialback = 0;

  constructor(private readonly deps: InboundStreamDeps) {
    this.parser = this.newParser();
    if (deps.directTls === true) void this.secure();
  }

  /** Bytes from the socket. */
  receive(chunk: Buffer): void {
    if (this.state === "closed" || this.state === "securing") return;
    if (this.authenticated.size === 0) {
      this.preAuthBytes += chunk.length;
      if (this.preAuthBytes > this.deps.limits.preAuthBytes) {
        this.fail(new StreamError("policy-violation", `more than ${this.deps.limits.preAuthBytes} bytes before authentication`));
        return;
      }
    }
    let data = chunk;
    const startedAtBoundary = this.atBoundary();
    if (startedAtBoundary) {
      // Whitespace between stanzas (keepalives, RFC 6120 §4.6.1) means nothing to the parser: it is
      // not fed, so a released parser stays released and the byte accounting stays exact.
      let lead = 0;
      while (lead < data.length && isWhitespace(data[lead])) lead++;
      if (lead === data.length) return;
      if (lead > 0) data = data.subarray(lead);
    }
    const parser = this.parser ?? this.rebuildParser();
    const generation = this.generation;
    if (this.beforeHeader !== undefined) this.beforeHeader.push(data);
    this.fed += data.length;
    let ws = 0;
    while (ws < data.length && isWhitespace(data[data.length - 1 - ws])) ws++;
    this.trailingWhitespace = ws;
    // One scratch list for all streams: write() delivers synchronously and never re-enters.
    SCRATCH_REGIONS.length = 0;
    this.regions = startedAtBoundary ? SCRATCH_REGIONS : undefined;
    parser.write(data);
    const regions = this.regions;
    this.regions = undefined;
    // A restart (STARTTLS, SASL) during this chunk started a new parser: nothing here is its.
    if (generation !== this.generation || this.state !== "negotiating") return;
    if (regions !== undefined && fitsBetweenWhitespace(data, regions)) {
      // The chunk was whitespace and whole stanzas: back at a boundary.
      this.delivered = this.fed - this.headerBytes;
      return;
    }
    if (this.header === undefined && this.beforeHeader !== undefined) {
      const seen = Buffer.concat(this.beforeHeader);
      this.beforeHeader = undefined;
      const end = streamHeaderEnd(seen);
      if (end === undefined) return;
      this.header = seen.toString("utf8", 0, end);
      this.headerBytes = end;
    }
    // Whitespace after the last stanza: the parser leaves it out of every stanza's bytes.
    const unaccounted = this.fed - this.headerBytes - this.delivered;
    if (this.header !== undefined && unaccounted > 0 && unaccounted <= this.trailingWhitespace) this.delivered += unaccounted;
  }

  /** Every byte this parser read is in the header, a delivered stanza or whitespace between them. */
  private atBoundary(): boolean {
    return this.header !== undefined && this.state === "negotiating" && this.fed - this.headerBytes - this.delivered === 0;
  }

  /**
   * Drops the parser when the stream is between stanzas (every byte read is in the header, a
   * delivered stanza or trailing whitespace); the next bytes rebuild it. Returns whether it did.
   * Called for streams idle for a while: an idle connection's memory is the bar (MISSION.md).
   */
  releaseIdleParser(): boolean {
    if (this.parser === undefined || !this.atBoundary()) return false;
    this.parser = undefined;
    return true;
  }

  get parserReleased(): boolean {
    return this.parser === undefined;
  }

  private rebuildParser(): StreamParser {
    const parser = this.newParser();
    this.parser = parser;
    this.fed = 0;
    this.delivered = 0;
    this.beforeHeader = undefined;
    if (this.header !== undefined) {
      this.replaying = true;
      parser.write(this.header);
      this.replaying = false;
      this.fed = this.headerBytes;
    }
    return parser;
  }

  get isAuthenticated(): boolean {
    return this.authenticated.size > 0;
  }

  get id(): string | undefined {
    return this.streamId;
  }

  get domains(): string[] {
    return [...this.authenticated];
  }

  /** Close with a stream error (timeouts, shutdown, a removed partner). */
  fail(error: StreamError): void {
    if (this.state === "closed") return;
    if (this.streamId === undefined) {
      // RFC 6120 §4.9.1.1: open a stream first so the error can be sent inside one.
      this.deps.transport.write(streamHeader({ id: this.deps.newStreamId(), version: "1.0", dialback: true }));
    }
    this.deps.transport.write(serialize(streamErrorElement(error)) + STREAM_CLOSE);
    this.deps.events.refused({
      streamId: this.streamId,
      condition: error.appCondition ?? error.condition,
      reason: error.text ?? error.condition,
      partner: this.peerDomain ?? this.claimedDomain,
    });
    this.close();
  }

  /** The peer's socket closed or errored. */
  socketClosed(): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.deps.events.closed({ streamId: this.streamId, domains: this.domains });
  }

  private close(): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.deps.transport.close();
    this.deps.events.closed({ streamId: this.streamId, domains: this.domains });
  }

  /** The stream itself takes the parser's events (no closures per parser: idle streams are many). */
  private newParser(): StreamParser {
    return new StreamParser(this.deps.limits, this);
  }

  // StreamParserEvents: called by this stream's parser only.

  onStreamStart(header: StreamHeader): void {
    // A rebuilt parser re-reads the header it had already delivered.
    if (this.replaying) return;
    this.onHeader(header);
  }

  onStreamEnd(): void {
    // RFC 6120 §4.4: answer the close and end the connection.
    this.deps.transport.write(STREAM_CLOSE);
    this.close();
  }

  onError(err: StreamError): void {
    this.fail(err);
  }

  // RFC 6120 §4.7: the initiating server's stream header.
  private onHeader(header: StreamHeader): void {
    if (this.state !== "header") return;
    const { attrs } = header;
    const to = (attrs.to ?? "").toLowerCase();
    const from = (attrs.from ?? "").toLowerCase();
    this.claimedDomain = from || undefined;
    this.streamId = this.deps.newStreamId();
    this.deps.transport.write(
      streamHeader({ from: this.deps.localDomains.has(to) ? to : undefined, to: from || undefined, id: this.streamId, version: "1.0", dialback: true }),
    );
    // RFC 6120 §4.7.5: version 1.0 is what we speak; an older or missing one is refused.
    if (attrs.version === undefined || !/^1\.\d+$/.test(attrs.version)) {
      return this.fail(new StreamError("unsupported-version", "this server speaks XMPP 1.0 streams only"));
    }
    // RFC 6120 §4.9.3.6: we are not that domain.
    if (!this.deps.localDomains.has(to)) {
      return this.fail(new StreamError("host-unknown", to === "" ? "the stream header has no 'to'" : `${to} is not served here`));
    }
    if (this.localDomain !== undefined && this.localDomain !== to) {
      return this.fail(new StreamError("host-unknown", "the restarted stream names another domain"));
    }
    this.localDomain = to;
    // We choose TLS, SASL and dialback per partner: a stream must say who it comes from.
    if (from === "") return this.fail(new StreamError("invalid-from", "the stream header must name your domain in 'from'"));
    if (this.peerDomain !== undefined && this.peerDomain !== from) {
      return this.fail(new StreamError("invalid-from", "the restarted stream names another domain"));
    }
    const partner = this.deps.findPartner(from);
    if (partner === undefined) {
      return this.fail(new StreamError("policy-violation", `${from} is not a federated partner of ${to}`));
    }
    this.peerDomain = from;
    this.partner = partner;
    this.state = "negotiating";
    this.deps.transport.write(serialize(this.features()));
  }

  /** RFC 6120 §4.3.2: what this partner may do at this point of the negotiation. */
  private features(): Element {
    const p = this.partner;
    if (p === undefined) return streamFeatures({});
    const secure = this.tls !== undefined;
    if (this.authenticated.size > 0) return streamFeatures({ dialback: p.dialback, dialbackErrors: p.dialback });
    const offerTls = !secure && this.deps.tlsAvailable && p.tls !== "not-supported";
    const saslAllowed = secure && p.sasl !== "not-supported" && !this.saslDone;
    const saslExternal = saslAllowed && this.certificateNamesPeer();
    // Dialback is not offered where TLS is required but not yet done, nor where SASL is required.
    const dialbackAllowed =
      p.dialback && !(p.tls === "required" && p.sasl === "required") && (secure || p.tls !== "required");
    if (offerTls && p.tls === "required") return streamFeatures({ starttls: "required" });
    return streamFeatures({
      ...(offerTls ? { starttls: "optional" as const } : {}),
      saslExternal,
      dialback: dialbackAllowed,
      dialbackErrors: dialbackAllowed,
    });
  }

  private certificateNamesPeer(): boolean {
    return this.tls !== undefined && this.tls.authorized && this.peerDomain !== undefined && this.tls.matchesDomain(this.peerDomain);
  }

  onElement(el: Element, bytes: number): void {
    this.delivered += bytes;
    this.regions?.push(bytes);
    if (this.state !== "negotiating") return;
    const ns = el.getNS();
    const name = el.getName();
    if (ns === NS.streams && name === "error") {
      // RFC 6120 §4.9.1.3: the peer ends the stream with an error; we close our side.
      this.deps.events.refused({ streamId: this.streamId, condition: "peer-stream-error", reason: el.children.map(String).join(""), partner: this.peerDomain });
      this.deps.transport.write(STREAM_CLOSE);
      return this.close();
    }
    if (ns === NS.tls && name === "starttls") return void this.onStartTls();
    // RFC 6120 §5.3.1: where TLS is mandatory, nothing else is accepted before it.
    if (this.partner?.tls === "required" && this.tls === undefined && this.deps.tlsAvailable) {
      return this.fail(new StreamError("policy-violation", "STARTTLS is required before anything else"));
    }
    if (ns === NS.sasl && name === "auth") return this.onSaslAuth(el);
    if (ns === NS.dialback && name === "result") return void this.onDialbackResult(el);
    if (ns === NS.dialback && name === "verify") return void this.onDialbackVerify(el);
    if (el.name === "message" || el.name === "presence" || el.name === "iq") {
      if (ns !== NS.server) return this.fail(new StreamError("invalid-namespace", `stanzas on a server stream are in ${NS.server}`));
      return this.onStanza(el, bytes);
    }
    if (this.authenticated.size === 0) {
      return this.fail(new StreamError("not-authorized", `<${el.name}/> before authentication`));
    }
    this.fail(new StreamError("unsupported-stanza-type", `<${el.name}/> in ${ns || "no namespace"} is not a stanza`));
  }

  // RFC 6120 §5.4.2: STARTTLS.
  private async onStartTls(): Promise<void> {
    const p = this.partner;
    if (this.tls !== undefined || !this.deps.tlsAvailable || p === undefined || p.tls === "not-supported") {
      this.deps.transport.write(`<failure xmlns='${NS.tls}'/>`);
      return this.fail(new StreamError("policy-violation", "STARTTLS is not available on this stream"));
    }
    // RFC 6120 §5.4.3.3: the stream restarts over TLS. Whatever came in plaintext after
    // <starttls/> (the rest of this chunk) belongs to no stream and is dropped unread, so
    // nothing pipelined before the handshake can pass as protected (cf. CVE-2011-0411).
    this.state = "securing";
    this.parser?.reset();
    this.deps.transport.write(`<proceed xmlns='${NS.tls}'/>`);
    await this.secure();
  }

  /** The TLS handshake (after <proceed/>, or on connect for XEP-0368), then a fresh stream. */
  private async secure(): Promise<void> {
    this.state = "securing";
    try {
      this.tls = await this.deps.transport.startTls();
    } catch (err) {
      this.deps.events.refused({ streamId: this.streamId, condition: "tls-failed", reason: (err as Error).message, partner: this.peerDomain });
      this.close();
      return;
    }
    this.restart();
  }

  // RFC 6120 §4.3.3 / §5.4.3.3 / §6.4.6: after TLS and SASL, the stream starts anew.
  private restart(): void {
    if (this.state === "closed") return;
    this.state = "header";
    // The rest of the chunk that carried <auth/> is not part of the new stream either.
    this.parser?.reset();
    this.parser = this.newParser();
    this.generation++;
    this.beforeHeader = [];
    this.header = undefined;
    this.headerBytes = 0;
    this.fed = 0;
    this.delivered = 0;
  }

  // XEP-0178 §2: SASL EXTERNAL with the certificate the peer presented.
  private onSaslAuth(el: Element): void {
    const p = this.partner;
    const peer = this.peerDomain;
    const failure = (condition: string, text: string) => {
      this.deps.transport.write(serialize(xml("failure", { xmlns: NS.sasl }, xml(condition), xml("text", {}, text))));
      this.deps.events.refused({ streamId: this.streamId, condition: `sasl-${condition}`, reason: text, partner: peer });
    };
    if (this.tls === undefined || p === undefined || peer === undefined || p.sasl === "not-supported" || this.saslDone) {
      return failure("invalid-mechanism", "SASL EXTERNAL is not offered on this stream");
    }
    if (el.attrs.mechanism !== "EXTERNAL") return failure("invalid-mechanism", "only EXTERNAL is offered");
    // XEP-0178 §2 step 5: the authorization identity is empty ("=") or the stream's domain.
    const text = el.getText().trim();
    let authzid = "";
    if (text !== "" && text !== "=") {
      authzid = Buffer.from(text, "base64").toString("utf8").toLowerCase();
      if (authzid !== peer) return failure("invalid-authzid", `authorization identity ${authzid} is not ${peer}`);
    }
    if (!this.tls.authorized) {
      return failure("not-authorized", `certificate not trusted: ${this.tls.authorizationError ?? "unknown reason"}`);
    }
    if (!this.tls.matchesDomain(peer)) return failure("not-authorized", `the certificate does not name ${peer}`);
    this.saslDone = true;
    this.deps.transport.write(`<success xmlns='${NS.sasl}'/>`);
    this.authenticated.add(peer);
    this.deps.events.authenticated({ streamId: this.streamId ?? "", domain: peer, method: "sasl-external", tls: true });
    this.restart();
  }

  // XEP-0220 §2.1.2: the originating server asks to be authenticated by dialback.
  private async onDialbackResult(el: Element): Promise<void> {
    const p = this.partner;
    const from = (el.attrs.from ?? "").toLowerCase();
    const to = (el.attrs.to ?? "").toLowerCase();
    const key = el.getText().trim();
    const reply = (type: "valid" | "invalid" | "error", error?: Element) =>
      this.deps.transport.write(serialize(xml("db:result", { from: to, to: from, type }, error)));
    if (p === undefined || !p.dialback || (p.tls === "required" && this.tls === undefined) || (p.tls === "required" && p.sasl === "required")) {
      return this.fail(new StreamError("not-authorized", "dialback is not allowed for this partner on this stream"));
    }
    if (el.attrs.type !== undefined) return this.fail(new StreamError("bad-format", "db:result request must not have a type"));
    // XEP-0220 §2.4: a piggybacked domain must be one of this partner's domains.
    const fromPartner = this.deps.findPartner(from);
    if (fromPartner === undefined || fromPartner.domain !== p.domain) {
      return reply("error", xml("error", { type: "cancel" }, xml("item-not-found", { xmlns: NS.stanzaErrors })));
    }
    if (!this.deps.localDomains.has(to)) {
      return reply("error", xml("error", { type: "cancel" }, xml("item-not-found", { xmlns: NS.stanzaErrors })));
    }
    if (key === "" || key.length > 1024) return this.fail(new StreamError("bad-format", "dialback key missing or too long"));
    this.pendingDialback++;
    if (this.pendingDialback > 16) return this.fail(new StreamError("policy-violation", "too many dialback requests at once"));
    let verdict: { valid: boolean; reason?: string };
    try {
      verdict = await this.deps.authorizeDialback({ receiving: to, originating: from, streamId: this.streamId ?? "", key });
    } catch (err) {
      verdict = { valid: false, reason: `dialback authority unavailable: ${(err as Error).message}` };
      this.pendingDialback--;
      if (this.state === "closed") return;
      return reply("error", xml("error", { type: "wait" }, xml("remote-server-timeout", { xmlns: NS.stanzaErrors })));
    }
    this.pendingDialback--;
    if (this.state === "closed") return;
    if (!verdict.valid) {
      reply("invalid");
      // XEP-0220 §2.1.2 / §2.3: an invalid key ends the stream.
      // The peer learns that dialback failed; the details (addresses, socket errors) stay in our log.
      this.deps.events.refused({ streamId: this.streamId, condition: "dialback-invalid", reason: verdict.reason ?? "invalid key", partner: from });
      return this.fail(new StreamError("not-authorized", `dialback for ${from} failed`));
    }
    reply("valid");
    this.authenticated.add(from);
    this.deps.events.authenticated({ streamId: this.streamId ?? "", domain: from, method: "dialback", tls: this.tls !== undefined });
  }

  // XEP-0220 §2.2: the receiving server checks with us (authoritative) a key we made.
  private async onDialbackVerify(el: Element): Promise<void> {
    const from = (el.attrs.from ?? "").toLowerCase();
    const to = (el.attrs.to ?? "").toLowerCase();
    const id = el.attrs.id ?? "";
    const key = el.getText().trim();
    if (el.attrs.type !== undefined) {
      // A verdict we never asked for: inbound streams carry requests only.
      return this.fail(new StreamError("not-authorized", "unsolicited db:verify answer"));
    }
    if (!this.deps.localDomains.has(to) || from !== this.peerDomain || id === "" || key === "" || key.length > 1024) {
      return this.fail(new StreamError("bad-format", "db:verify must carry our domain, yours, the stream id and a key"));
    }
    let verdict: { valid: boolean };
    try {
      verdict = await this.deps.verifyDialback({ receiving: from, originating: to, streamId: id, key });
    } catch {
      if (this.state === "closed") return;
      this.deps.transport.write(
        serialize(xml("db:verify", { from: to, to: from, id, type: "error" }, xml("error", { type: "wait" }, xml("internal-server-error", { xmlns: NS.stanzaErrors })))),
      );
      return;
    }
    if (this.state === "closed") return;
    this.deps.transport.write(serialize(xml("db:verify", { from: to, to: from, id, type: verdict.valid ? "valid" : "invalid" })));
  }

  // RFC 6120 §8.1.1–§8.1.2: every stanza addressed and from an authenticated domain.
  private onStanza(el: Element, bytes: number): void {
    if (this.authenticated.size === 0) {
      return this.fail(new StreamError("not-authorized", "stanzas before authentication"));
    }
    const fromAttr = el.attrs.from;
    const toAttr = el.attrs.to;
    if (fromAttr === undefined || toAttr === undefined) {
      return this.fail(new StreamError("improper-addressing", "a server-to-server stanza needs 'from' and 'to'"));
    }
    let from: Jid;
    let to: Jid;
    try {
      from = Jid.parse(fromAttr);
    } catch (err) {
      return this.fail(new StreamError("invalid-from", `'from' is not a JID: ${(err as Error).message}`));
    }
    try {
      to = Jid.parse(toAttr);
    } catch (err) {
      return this.fail(new StreamError("improper-addressing", `'to' is not a JID: ${(err as Error).message}`));
    }
    if (!this.authenticated.has(from.domain)) {
      return this.fail(new StreamError("invalid-from", `${from.domain} is not authenticated on this stream`));
    }
    if (!this.deps.localDomains.has(to.domain)) {
      return this.fail(new StreamError("host-unknown", `${to.domain} is not served here`));
    }
    this.deps.accept({
      streamId: this.streamId ?? "",
      kind: el.name as AcceptedStanza["kind"],
      type: el.attrs.type,
      from: from.toString(),
      to: to.toString(),
      partnerDomain: from.domain,
      localDomain: to.domain,
      element: el,
      bytes,
    });
  }
}
