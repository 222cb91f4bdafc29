/**
 * The non-INVITE client transaction (RFC 3261 §17.1.2): retransmits over unreliable transports
 * (Timer E), gives up after 64*T1 with a locally made 408 (Timer F), and absorbs response
 * retransmissions for T4 after the final response (Timer K).
 */
import type { SipRequest, SipResponse } from "./message.ts";
import { createResponse } from "./response.ts";
import { DEFAULT_TIMES, realTimers, type TimerApi, type TransactionTimes } from "./timers.ts";

export type ClientTransactionState = "trying" | "proceeding" | "completed" | "terminated";

export interface ClientTransactionResult {
  response: SipResponse;
  /** "network": a final response arrived; "timeout": Timer F fired (408 made locally); "transport-error": 503 made locally. */
  source: "network" | "timeout" | "transport-error";
}

export interface ClientTransactionOptions {
  request: SipRequest;
  /** The already serialized request, sent and re-sent as is. */
  wire: Buffer;
  /** Send the request bytes; a rejection counts as a transport error (RFC 3261 §17.1.4). */
  send: (wire: Buffer) => Promise<void>;
  reliable: boolean;
  times?: TransactionTimes;
  timers?: TimerApi;
  onProvisional?: (response: SipResponse) => void;
  /** Called once when the transaction reaches Terminated. */
  onTerminated?: () => void;
}

export class NonInviteClientTransaction {
  state: ClientTransactionState = "trying";
  readonly result: Promise<ClientTransactionResult>;
  /** How many times the request went out (1 + retransmissions). */
  sends = 0;
  private resolve!: (r: ClientTransactionResult) => void;
  private timerE: unknown;
  private timerF: unknown;
  private timerK: unknown;
  private intervalE: number;
  private readonly times: TransactionTimes;
  private readonly timers: TimerApi;

  constructor(private readonly options: ClientTransactionOptions) {
    this.times = options.times ?? DEFAULT_TIMES;
    this.timers = options.timers ?? realTimers;
    this.intervalE = this.times.t1;
    this.result = new Promise((resolve) => (this.resolve = resolve));
  }

  /** Send the request and start the timers (RFC 3261 §17.1.2.2: "Trying"). */
  start(): void {
    // Timer F = 64*T1, for reliable and unreliable transports alike.
    this.timerF = this.timers.setTimeout(() => this.onTimerF(), 64 * this.times.t1);
    // Timer E only over unreliable transports, first at T1.
    if (!this.options.reliable) this.timerE = this.timers.setTimeout(() => this.onTimerE(), this.intervalE);
    this.transmit();
  }

  /** A response matched to this transaction (RFC 3261 §17.1.3). */
  receiveResponse(response: SipResponse): void {
    if (this.state === "completed" || this.state === "terminated") return; // absorbed retransmission
    if (response.status < 200) {
      this.state = "proceeding";
      this.options.onProvisional?.(response);
      return;
    }
    // RFC 3261 §17.1.2.2: a final response moves to Completed; Timer K = T4 (unreliable) or 0 (reliable).
    this.state = "completed";
    this.clear();
    this.resolve({ response, source: "network" });
    if (this.options.reliable) this.terminate();
    else this.timerK = this.timers.setTimeout(() => this.terminate(), this.times.t4);
  }

  /** Stop now (e.g. on shutdown): reported as a transport error. */
  cancel(): void {
    if (this.state === "terminated") return;
    this.fail("transport-error", 503, "Transaction Cancelled");
  }

  private transmit(): void {
    this.sends++;
    this.options.send(this.options.wire).catch(() => {
      // RFC 3261 §17.1.4 / §8.1.3.1: a transport error is reported as a 503.
      if (this.state === "trying" || this.state === "proceeding") this.fail("transport-error", 503, "Transport Error");
    });
  }

  private onTimerE(): void {
    if (this.state !== "trying" && this.state !== "proceeding") return;
    this.transmit();
    // In Trying the interval doubles up to T2; in Proceeding it is T2.
    this.intervalE = this.state === "trying" ? Math.min(2 * this.intervalE, this.times.t2) : this.times.t2;
    this.timerE = this.timers.setTimeout(() => this.onTimerE(), this.intervalE);
  }

  private onTimerF(): void {
    if (this.state !== "trying" && this.state !== "proceeding") return;
    // RFC 3261 §17.1.2.2 and §8.1.3.1: Timer F fired: the TU is told of a timeout, seen as a 408.
    this.fail("timeout", 408, "Request Timeout");
  }

  private fail(source: "timeout" | "transport-error", status: number, reason: string): void {
    this.clear();
    this.resolve({ response: createResponse(this.options.request, status, { reason, toTag: null }), source });
    this.terminate();
  }

  private clear(): void {
    if (this.timerE !== undefined) this.timers.clearTimeout(this.timerE);
    if (this.timerF !== undefined) this.timers.clearTimeout(this.timerF);
    this.timerE = this.timerF = undefined;
  }

  private terminate(): void {
    if (this.state === "terminated") return;
    this.clear();
    if (this.timerK !== undefined) this.timers.clearTimeout(this.timerK);
    this.state = "terminated";
    this.options.onTerminated?.();
  }
}
