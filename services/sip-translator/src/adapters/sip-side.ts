/**
 * The SIP side of the translator: one transport (UDP or TCP, as configured) bound to our listen
 * address, an endpoint with the non-INVITE transactions, requests sent to the internal proxy.
 * Requests the proxy sends us are answered (OPTIONS 200; MESSAGE 501 until outbound IM lands).
 */
import { SipEndpoint, createResponse, type ClientTransactionResult, type Peer, type SipRequest, type SipTransport } from "@passerelle/sip";
import { TcpTransport, UdpTransport } from "@passerelle/sip/io";

export interface SipSideOptions {
  listen: { host: string; port: number; transport: "udp" | "tcp" };
  proxy: { host: string; port: number; transport: "udp" | "tcp" };
  /** Timer F: how long to wait for a final answer (RFC 3261 §17.1.2.2: 64*T1), in ms. */
  timeoutMs: number;
  onDiagnostic?: (event: { kind: string; detail: string; source?: Peer }) => void;
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
      const status = request.method === "OPTIONS" ? 200 : request.method === "MESSAGE" ? 501 : 405;
      const headers: [string, string][] = status === 405 || request.method === "OPTIONS" ? [["Allow", "OPTIONS"]] : [];
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
