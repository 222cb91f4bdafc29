/**
 * Runs steps one after the other per key (e.g. per conversation), different keys in parallel.
 * A step's failure does not stop the next one. Pure: no timers, no I/O.
 */
export class KeyedChain {
  private readonly tails = new Map<string, Promise<void>>();

  /** Keys with a step running or waiting. */
  get size(): number {
    return this.tails.size;
  }

  run<T>(key: string, step: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(step);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}
