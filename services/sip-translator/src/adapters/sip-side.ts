/**
 * The SIP side of the translator: one transport (UDP or TCP, as configured) bound to our listen
 * address, an endpoint with the non-INVITE transactions, requests sent to the internal proxy.
 * Requests the proxy sends us are answered: OPTIONS 200; MESSAGE by `onMessage` (outbound IM), 501
 * without one; anything else 405.
 */
import { SipEndpoint, createResponse, type ClientTransactionResult, type Peer, type SipRequest, type SipTransport } from "@passerelle/sip";
import { TcpTransport, UdpTransport } from "@passerelle/sip/io";

export interface SipSideOptions {
  listen: { host: string; port: number; transport: "udp" | "tcp" };
  proxy: { host: string; port: number; transport: "udp" | "tcp" };
  /** Timer F: how long to wait for a final answer (RFC 3261 §17.1.2.2: 64*T1), in ms. */
  timeoutMs: number;
  onDiagnostic?: (event: { kind: string; detail: string; source?: Peer }) => void;
  /** Answers a MESSAGE the proxy routed to us (outbound IM); never rejects. */
  onMessage?: (request: SipRequest) => Promise<{ status: number; reason: string }>;
  /** Answers SUBSCRIBE and NOTIFY (presence, RFC 3856 / RFC 6665); never rejects. `after` runs once the answer is sent. */
  onPresence?: (request: SipRequest) => Promise<{
    status: number;
    reason: string;
    headers?: [string, string][];
    toTag?: string;
    after?: () => Promise<void>;
  }>;
}

export class SipSide {
  private constructor(
    readonly endpoint: SipEndpoint,
    readonly transport: SipTransport,
    private readonly proxy: Peer,
  ) {}

  static async start(options: SipSideOptions): Promise<SipSide> {
    if (options.listen.transport !== options.proxy.transport) {
      throw new Error(`sip.listen.transport (${options.listen.transport}) must match sip.proxy.transport (${options.proxy.transport})`);
    }
    // T1 scaled so that Timer F (64*T1) is the configured timeout; T2 and T4 keep their RFC ratios.
    const t1 = Math.max(1, Math.round(options.timeoutMs / 64));
    const endpoint = new SipEndpoint({
      times: { t1, t2: t1 * 8, t4: t1 * 10 },
      ...(options.onDiagnostic ? { onDiagnostic: options.onDiagnostic } : {}),
    });
    const listen = { host: options.listen.host, port: options.listen.port };
    const transport =
      options.listen.transport === "tcp"
        ? await TcpTransport.listen(listen, endpoint.transportEvents)
        : await UdpTransport.listen(listen, endpoint.transportEvents);
    endpoint.attach(transport);
    endpoint.onRequest((request, respond) => {
      const onMessage = options.onMessage;
      if (request.method === "MESSAGE" && onMessage !== undefined) {
        // RFC 3428 §7: the final response of a MESSAGE says whether it was accepted; no provisional one is needed.
        void onMessage(request)
          .catch(() => ({ status: 500, reason: "Server Internal Error" }))
          .then((answer) => respond(createResponse(request, answer.status, { reason: answer.reason.replace(/[\r\n]+/g, " ").slice(0, 120) })))
          .catch((err: unknown) => options.onDiagnostic?.({ kind: "respond-failed", detail: String(err) }));
        return;
      }
      const onPresence = options.onPresence;
      if ((request.method === "SUBSCRIBE" || request.method === "NOTIFY") && onPresence !== undefined) {
        void onPresence(request)
          .catch(() => ({ status: 500, reason: "Server Internal Error" }) as Awaited<ReturnType<typeof onPresence>>)
          .then(async (answer) => {
            await respond(
              createResponse(request, answer.status, {
                reason: answer.reason.replace(/[\r\n]+/g, " ").slice(0, 120),
                ...(answer.headers ? { headers: answer.headers } : {}),
                ...(answer.toTag ? { toTag: answer.toTag } : {}),
              }),
            );
            // RFC 6665 §4.2.1.2: the NOTIFY that follows an accepted SUBSCRIBE goes after the answer.
            await answer.after?.();
          })
          .catch((err: unknown) => options.onDiagnostic?.({ kind: "respond-failed", detail: String(err) }));
        return;
      }
      const status = request.method === "OPTIONS" ? 200 : request.method === "MESSAGE" ? 501 : 405;
      const allow = ["OPTIONS", ...(options.onMessage === undefined ? [] : ["MESSAGE"]), ...(options.onPresence === undefined ? [] : ["SUBSCRIBE", "NOTIFY"])].join(", ");
      const headers: [string, string][] = status === 405 || request.method === "OPTIONS" ? [["Allow", allow]] : [];
      respond(createResponse(request, status, { headers })).catch((err: unknown) =>
        options.onDiagnostic?.({ kind: "respond-failed", detail: String(err) }),
      );
    });
    return new SipSide(endpoint, transport, { host: options.proxy.host, port: options.proxy.port });
  }

  /** Send a request to the internal proxy; resolves with the final answer (or a local 408/503). */
  send(request: SipRequest): Promise<ClientTransactionResult> {
    return this.endpoint.request(request, this.proxy);
  }

  async stop(): Promise<void> {
    this.endpoint.shutdown();
    await this.transport.close();
  }
}
