/**
 * A SIP endpoint over one transport: sends requests through non-INVITE client transactions, matches
 * responses to them (RFC 3261 §17.1.3), hands incoming requests to a handler with a `respond`
 * function, and answers retransmitted requests from a short cache (RFC 3261 §17.2.2). Pure apart
 * from the transport it is given.
 */
import { SipParseError } from "./errors.ts";
import { parseCSeq, serializeMessage, type SipMessage, type SipRequest, type SipResponse } from "./message.ts";
import { createResponse } from "./response.ts";
import { DEFAULT_TIMES, realTimers, type TimerApi, type TransactionTimes } from "./timers.ts";
import { NonInviteClientTransaction, type ClientTransactionResult } from "./transaction.ts";
import type { Peer, SipTransport } from "./transport.ts";
import { BRANCH_MAGIC_COOKIE, formatVia, generateBranch, parseVia } from "./via.ts";

export type RequestHandler = (request: SipRequest, respond: (response: SipResponse) => Promise<void>, source: Peer) => void;

export interface EndpointOptions {
  times?: TransactionTimes;
  timers?: TimerApi;
  /** Most client transactions at once; more are refused with a local 503 (default 10,000). */
  maxClientTransactions?: number;
  /** Most remembered server responses for retransmitted requests (default 10,000). */
  maxServerCache?: number;
  /** Told of refused input and stray responses, for logs and metrics. */
  onDiagnostic?: (event: { kind: "refused" | "stray-response" | "handler-error" | "bad-request"; detail: string; source?: Peer }) => void;
}

interface CachedAnswer {
  response?: Buffer;
  target: Peer;
  timer: unknown;
}

export class SipEndpoint {
  private readonly clients = new Map<string, NonInviteClientTransaction>();
  private readonly served = new Map<string, CachedAnswer>();
  private handler: RequestHandler | undefined;
  private transport: SipTransport | undefined;
  private readonly times: TransactionTimes;
  private readonly timers: TimerApi;

  constructor(private readonly options: EndpointOptions = {}) {
    this.times = options.times ?? DEFAULT_TIMES;
    this.timers = options.timers ?? realTimers;
  }

  /** The transport this endpoint sends on (set once it listens; see `transportEvents`). */
  attach(transport: SipTransport): void {
    this.transport = transport;
  }

  onRequest(handler: RequestHandler): void {
    this.handler = handler;
  }

  /** Events to give the transport when creating it. */
  readonly transportEvents = {
    message: (message: SipMessage, source: Peer): void => this.receive(message, source),
    refused: (error: SipParseError, source: Peer): void =>
      this.options.onDiagnostic?.({ kind: "refused", detail: `${error.reason}: ${error.message}`, source }),
  };

  get pendingTransactions(): number {
    return this.clients.size;
  }

  /**
   * Send a non-INVITE request to `target`: a Via with a fresh branch is put on top, the request is
   * sent, and the promise resolves with the final response (or a local 408 / 503).
   */
  request(request: SipRequest, target: Peer): Promise<ClientTransactionResult> {
    const transport = this.requireTransport();
    const branch = generateBranch();
    // RFC 3261 §8.1.1.7 / §18.1.1: the UAC's Via carries its transport, sent-by and branch; rport per RFC 3581.
    request.headers.prepend("Via", `SIP/2.0/${transport.protocol} ${hostForVia(transport.local.host)}:${transport.local.port};branch=${branch};rport`);
    const method = request.method;
    const k = `${branch}|${method}`;
    if (this.clients.size >= (this.options.maxClientTransactions ?? 10_000)) {
      return Promise.resolve({ response: createResponse(request, 503, { reason: "Too Many Transactions", toTag: null }), source: "transport-error" });
    }
    const tx = new NonInviteClientTransaction({
      request,
      wire: serializeMessage(request),
      send: (wire) => transport.send(wire, target),
      reliable: transport.reliable,
      times: this.times,
      timers: this.timers,
      onTerminated: () => this.clients.delete(k),
    });
    this.clients.set(k, tx);
    tx.start();
    return tx.result;
  }

  /** Stop every pending transaction (their promises resolve with a local 503). */
  shutdown(): void {
    for (const tx of [...this.clients.values()]) tx.cancel();
    for (const entry of this.served.values()) this.timers.clearTimeout(entry.timer);
    this.served.clear();
  }

  private receive(message: SipMessage, source: Peer): void {
    try {
      if (message.kind === "response") this.receiveResponse(message, source);
      else this.receiveRequest(message, source);
    } catch (err) {
      this.options.onDiagnostic?.({ kind: err instanceof SipParseError ? "bad-request" : "handler-error", detail: String(err), source });
    }
  }

  // RFC 3261 §17.1.3: a response matches the client transaction with the top Via's branch and the CSeq method.
  private receiveResponse(response: SipResponse, source: Peer): void {
    const top = response.headers.get("via");
    const via = top === undefined ? undefined : parseVia(top);
    const branch = via?.params.get("branch");
    const method = parseCSeq(response.headers.get("cseq") ?? "").method;
    const tx = typeof branch === "string" ? this.clients.get(`${branch}|${method}`) : undefined;
    if (!tx) {
      this.options.onDiagnostic?.({ kind: "stray-response", detail: `${response.status} for ${method}`, source });
      return;
    }
    tx.receiveResponse(response);
  }

  private receiveRequest(request: SipRequest, source: Peer): void {
    const transport = this.requireTransport();
    const topText = request.headers.get("via");
    if (topText === undefined) return;
    const via = parseVia(topText);
    // RFC 3261 §18.2.1: add "received" when sent-by differs from the source; RFC 3581 §4: fill rport.
    if (via.host !== source.host) via.params.set("received", source.host);
    if (via.params.has("rport")) via.params.set("rport", String(source.port));
    request.headers.replaceFirst("Via", formatVia(via));

    // RFC 3261 §18.2.2: where responses go. Reliable: back on the connection (its source). UDP: received/rport, else sent-by.
    const target: Peer = transport.reliable || via.params.has("rport")
      ? source
      : { host: source.host, port: via.port ?? 5060 };

    // RFC 3261 §17.2.3: a request with the magic cookie matches a server transaction by branch, sent-by and method.
    const branch = via.params.get("branch");
    const cacheKey =
      typeof branch === "string" && branch.startsWith(BRANCH_MAGIC_COOKIE) && request.method !== "ACK"
        ? `${branch}|${via.host}:${via.port ?? ""}|${request.method}`
        : undefined;
    if (cacheKey !== undefined) {
      const seen = this.served.get(cacheKey);
      if (seen) {
        // RFC 3261 §17.2.2: a retransmission in Trying is absorbed; in Completed the last response is re-sent.
        if (seen.response) transport.send(seen.response, seen.target).catch(() => {});
        return;
      }
      if (this.served.size >= (this.options.maxServerCache ?? 10_000)) {
        const oldest = this.served.keys().next().value;
        if (oldest !== undefined) {
          this.timers.clearTimeout(this.served.get(oldest)!.timer);
          this.served.delete(oldest);
        }
      }
      // Timer J = 64*T1 over unreliable transports, 0 over reliable ones.
      const entry: CachedAnswer = {
        target,
        timer: this.timers.setTimeout(() => this.served.delete(cacheKey), transport.reliable ? 0 : 64 * this.times.t1),
      };
      this.served.set(cacheKey, entry);
    }

    const respond = async (response: SipResponse): Promise<void> => {
      const wire = serializeMessage(response);
      if (cacheKey !== undefined && response.status >= 200) {
        const entry = this.served.get(cacheKey);
        if (entry) entry.response = wire;
      }
      await transport.send(wire, target);
    };
    if (!this.handler) {
      // RFC 3261 §8.2.1: nobody handles this method here.
      void respond(createResponse(request, 405)).catch(() => {});
      return;
    }
    this.handler(request, respond, source);
  }

  private requireTransport(): SipTransport {
    if (!this.transport) throw new Error("SipEndpoint has no transport attached");
    return this.transport;
  }
}

function hostForVia(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}
