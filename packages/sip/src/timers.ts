/** Timers the transaction layer uses; tests pass a fake clock. */
export interface TimerApi {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: TimerApi = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

// RFC 3261 §17.1.1.1 and Table 4: T1 (RTT estimate), T2 (max non-INVITE retransmit interval), T4 (max message lifetime).
export interface TransactionTimes {
  t1: number;
  t2: number;
  t4: number;
}

export const DEFAULT_TIMES: TransactionTimes = { t1: 500, t2: 4000, t4: 5000 };

/** A fake clock for tests: `advance(ms)` runs due timers in time order. */
export class FakeClock implements TimerApi {
  now = 0;
  private seq = 0;
  private readonly pending = new Map<number, { at: number; fn: () => void }>();

  setTimeout(fn: () => void, ms: number): number {
    const id = ++this.seq;
    this.pending.set(id, { at: this.now + ms, fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  advance(ms: number): void {
    const until = this.now + ms;
    // Bounded: each pass runs one timer; timers scheduled past `until` stay.
    for (let guard = 0; guard < 100_000; guard++) {
      let nextId: number | undefined;
      let nextAt = Infinity;
      for (const [id, t] of this.pending) {
        if (t.at <= until && (t.at < nextAt || (t.at === nextAt && id < (nextId ?? Infinity)))) {
          nextAt = t.at;
          nextId = id;
        }
      }
      if (nextId === undefined) break;
      const t = this.pending.get(nextId)!;
      this.pending.delete(nextId);
      this.now = t.at;
      t.fn();
    }
    this.now = until;
  }

  get size(): number {
    return this.pending.size;
  }
}
