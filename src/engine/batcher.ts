import { GafferError } from '../core/errors.js';
import { isConnectionError } from '../store/connection-errors.js';

export interface BatcherOptions<I> {
  /** Most items in one flush (default 1000). */
  maxBatch?: number;
  /**
   * Runs on each item before it joins a batch; a throw refuses that item alone (its caller gets
   * the error), so one value the database cannot take never reaches a statement shared with others.
   */
  check?: (item: I) => void;
  /**
   * Whether a failed flush is sent again in halves, down to single items, so only the item that
   * broke it is refused and the others succeed. Default: every error but a lost connection or an
   * unavailable server, which would fail the halves alike.
   */
  split?: (err: unknown) => boolean;
}

function splittable(err: unknown): boolean {
  if (isConnectionError(err)) return false;
  return !(err instanceof GafferError && err.code === 'unavailable');
}

interface Entry<I, R> {
  item: I;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

/**
 * Group commit: callers add items one at a time and each gets its own answer,
 * but items that arrive while a flush is in flight go out together in the next
 * flush. An idle batcher flushes at once (no timer), so a lone item pays no
 * extra latency and a busy one amortises its commits. One bad item costs only
 * its own caller: it is refused by `check` before it joins, or, if the shared
 * statement still fails, the batch is retried in halves until it is isolated.
 */
export class Batcher<I, R> {
  private queue: Array<Entry<I, R>> = [];
  private flushing = false;
  private idleWaiters: Array<() => void> = [];
  private readonly maxBatch: number;
  private readonly check: ((item: I) => void) | undefined;
  private readonly split: (err: unknown) => boolean;

  constructor(
    private readonly flushFn: (items: I[]) => Promise<R[]>,
    options: number | BatcherOptions<I> = {},
  ) {
    const o = typeof options === 'number' ? { maxBatch: options } : options;
    this.maxBatch = o.maxBatch ?? 1000;
    this.check = o.check;
    this.split = o.split ?? splittable;
  }

  add(item: I): Promise<R> {
    if (this.check) {
      try {
        this.check(item);
      } catch (err) {
        return Promise.reject(err);
      }
    }
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
      await this.flush(this.queue.splice(0, this.maxBatch));
    }
    this.flushing = false;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private async flush(batch: Array<Entry<I, R>>): Promise<void> {
    try {
      const results = await this.flushFn(batch.map((b) => b.item));
      for (const [i, b] of batch.entries()) b.resolve(results[i] as R);
    } catch (err) {
      if (batch.length === 1 || !this.split(err)) {
        for (const b of batch) b.reject(err);
        return;
      }
      const half = Math.ceil(batch.length / 2);
      await this.flush(batch.slice(0, half));
      await this.flush(batch.slice(half));
    }
  }
}
