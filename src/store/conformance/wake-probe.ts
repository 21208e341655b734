import type { Store } from '../store.js';
import type { Wake } from '../types.js';
import { uid } from './helpers.js';

/**
 * Records the queues a store wakes. `ready()` makes sure the subscription is live
 * (on PostgreSQL it may connect lazily) by creating work in a scratch queue until it is heard.
 */
export class WakeProbe {
  private readonly heard: string[] = [];
  /** Every wake-up heard, as the listener got it. */
  readonly wakes: Array<Wake | null> = [];
  private waiters: Array<() => void> = [];
  private readonly off: () => void;

  constructor(
    private readonly store: Store,
    private readonly type: string,
  ) {
    this.off = store.onWake((wake) => {
      this.heard.push(wake?.queue ?? '');
      this.wakes.push(wake);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** Waits up to `ms` for a wake of `queue`; true if one came. */
  async waitFor(queue: string, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.heard.includes(queue)) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return true;
  }

  /** How many wake-ups of `queue` were heard so far. */
  count(queue: string): number {
    return this.heard.filter((q) => q === queue).length;
  }

  async ready(): Promise<void> {
    const scratch = uid('q');
    for (let i = 0; i < 20; i++) {
      await this.store.createTasks({ tasks: [{ type: this.type, queue: scratch }] });
      if (await this.waitFor(scratch, 500)) return;
    }
    throw new Error('the store never delivered a wake-up for newly created work');
  }

  close(): void {
    this.off();
  }
}

/** Runs fn with a live probe of the store's wake-ups, closed afterwards. */
export async function probing(
  store: Store,
  type: string,
  fn: (probe: WakeProbe) => Promise<void>,
): Promise<void> {
  const probe = new WakeProbe(store, type);
  try {
    await probe.ready();
    await fn(probe);
  } finally {
    probe.close();
  }
}
