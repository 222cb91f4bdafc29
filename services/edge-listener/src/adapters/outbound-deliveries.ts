/**
 * Answers `passerelle.v1.outbound.deliver` (queue group "edge-listener"): hands a stanza to the
 * outbound pool and replies once it is written to an authenticated stream, or with the reason it
 * could not be (remote-server-not-found / -timeout, resource-constraint), at the latest when the
 * stream establishment timeout has passed. Requests are handed to the pool in the order this
 * replica receives them, so stanzas queued while a link is set up leave in that order.
 */
import { queues, subjects, type OutboundDeliverReply, type OutboundStanza, type StanzaErrorInfo } from "@passerelle/contracts";
import type { Bus } from "@passerelle/runtime";
import type { Logger } from "@passerelle/telemetry";
import type { SendReceipt } from "./outbound-pool.ts";

export const DELIVER_REQUIRED = ["id", "localDomain", "remoteDomain", "xml"] as const satisfies readonly (keyof OutboundStanza)[];
/** RFC 1035 §2.3.4 / RFC 7622 §3.2: a domain is at most 253 octets in its ASCII form (1023 as a JID part). */
const MAX_DOMAIN = 1023;
const MAX_ID = 1024;

export interface OutboundDeliveriesOptions {
  send(localDomain: string, remoteDomain: string, xml: string, type: string | undefined, receipt: SendReceipt): void;
  localDomains: ReadonlySet<string>;
  /** Longest stanza accepted (gateway.limits.maxStanzaBytes). */
  maxStanzaBytes: number;
  /** The longest a request waits (gateway.timeouts.streamEstablishment). */
  deadlineMs: number;
  log: Logger;
}

export class OutboundDeliveries {
  constructor(private readonly o: OutboundDeliveriesOptions) {}

  serve(bus: Bus): { drain(): Promise<void> } {
    return bus.reply<OutboundStanza, OutboundDeliverReply>(subjects.outboundDeliver, queues.edgeListener, DELIVER_REQUIRED, (request) => this.handle(request));
  }

  /** Never rejects. The pool is called before the first await, so arrival order is kept. */
  handle(request: OutboundStanza): Promise<OutboundDeliverReply> {
    const id = typeof request.id === "string" ? request.id.slice(0, MAX_ID) : "";
    const invalid = this.check(request);
    if (invalid !== undefined) {
      this.o.log.warn({ id, reason: invalid }, "outbound delivery request refused");
      return Promise.resolve({ v: 1, id, outcome: "failed", error: { type: "modify", condition: "bad-request", text: invalid } });
    }
    return new Promise<OutboundDeliverReply>((resolve) => {
      let settled = false;
      const settle = (error?: StanzaErrorInfo): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(error === undefined ? { v: 1, id, outcome: "sent" } : { v: 1, id, outcome: "failed", error });
      };
      // RFC 6120 §8.3.3.18: no link within the time allowed is remote-server-timeout.
      const timer = setTimeout(
        () => settle({ type: "wait", condition: "remote-server-timeout", text: `no stream to ${request.remoteDomain} within ${Math.round(this.o.deadlineMs / 1000)} s` }),
        this.o.deadlineMs,
      );
      try {
        this.o.send(request.localDomain, request.remoteDomain.toLowerCase(), request.xml, request.type, {
          expired: () => settled,
          sent: () => settle(),
          failed: (error) => settle(error),
        });
      } catch (err) {
        this.o.log.error({ id, err }, "outbound pool failed");
        settle({ type: "cancel", condition: "internal-server-error" });
      }
    });
  }

  private check(r: OutboundStanza): string | undefined {
    if (typeof r.localDomain !== "string" || !this.o.localDomains.has(r.localDomain)) return "localDomain is not one of our domains";
    if (typeof r.remoteDomain !== "string" || r.remoteDomain.length === 0 || r.remoteDomain.length > MAX_DOMAIN) return "remoteDomain must be a domain of at most 1023 characters";
    if (this.o.localDomains.has(r.remoteDomain.toLowerCase())) return "remoteDomain is one of our domains";
    if (typeof r.xml !== "string" || r.xml.length === 0) return "xml must be a stanza";
    if (Buffer.byteLength(r.xml, "utf8") > this.o.maxStanzaBytes) return `the stanza is larger than ${this.o.maxStanzaBytes} bytes`;
    if (r.type !== undefined && typeof r.type !== "string") return "type must be a string";
    return undefined;
  }
}
