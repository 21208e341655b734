/**
 * Group commit: callers add items one at a time and each gets its own answer,
 * but items that arrive while a flush is in flight go out together in the next
 * flush. An idle batcher flushes at once (no timer), so a lone item pays no
 * extra latency and a busy one amortises its commits.
 */
export class Batcher<I, R> {
  private queue: Array<{ item: I; resolve: (r: R) => void; reject: (e: unknown) => void }> = [];
  private flushing = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly flushFn: (items: I[]) => Promise<R[]>,
    private readonly maxBatch = 1000,
  ) {}

  add(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        // Let items added in the same tick join this batch.
        setImmediate(() => void this.drain());
      }
    });
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Resolves when everything added so far has been flushed. */
  idle(): Promise<void> {
    if (!this.flushing && this.queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      try {
        const results = await this.flushFn(batch.map((b) => b.item));
        for (const [i, b] of batch.entries()) b.resolve(results[i] as R);
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
    }
    this.flushing = false;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
