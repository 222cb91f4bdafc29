/**
 * At most `limit` operations at once, started strictly in arrival order. The translator sends SIP
 * MESSAGEs through it: a burst from JetStream must not become thousands of simultaneous UDP
 * transactions (retransmission storms at the proxy), and the order partners sent stanzas in is
 * the order their MESSAGEs leave.
 */
export class FifoLimiter {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError("limit must be a positive integer");
  }

  get active(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  async run<T>(operation: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit || this.waiting.length > 0) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await operation();
    } finally {
      const next = this.waiting.shift();
      // The slot passes straight to the next in line, so nobody overtakes it.
      if (next !== undefined) next();
      else this.running--;
    }
  }
}
