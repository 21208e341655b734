import type { Store } from '../store/store.js';
import type { Wake } from '../store/types.js';

/** What a waiting claim takes: its types and queues (empty or absent: any), and how many tasks. */
export interface WaitFor {
  types?: readonly string[] | null;
  queues?: readonly string[] | null;
  limit: number;
}

interface Entry {
  types: ReadonlySet<string> | null;
  queues: ReadonlySet<string> | null;
  limit: number;
  /** The wake-up that fired this entry (null: a wake of everything); undefined while unfired. */
  got: Wake | null | undefined;
  fire: (w: Wake | null) => void;
}

/** A claim registered for wake-ups: `woken` once a wake-up chose it. */
export interface Listening {
  readonly woken: boolean;
  /** Waits for the wake-up, `ms`, or an abort, whichever comes first. */
  wait(ms: number, signals: readonly (AbortSignal | undefined)[]): Promise<void>;
  /**
   * Stops listening. `claimedAgain` false: the claim does not run again after a wake-up that chose
   * it (it returned other tasks, or its caller went away), so the wake-up goes on to another waiter.
   */
  done(claimedAgain: boolean): void;
}

const shared = new WeakMap<Pick<Store, 'onWake'>, WorkWaiters>();

/**
 * The claims waiting for work in this process, woken as many as there is work. A wake-up names a
 * queue, a type and a count of tasks (src/store/sql/wake.ts); it fires the waiters that take that
 * type and queue, longest waiting first, until their limits cover the count, so a commit of k tasks
 * runs at most k claims here however many wait (each server of a fleet hears the wake-up and wakes
 * at most k of its own). Every claim that waits goes through one of these per store (forStore), the
 * in-process DirectTransport and the server's HTTP long-polls alike.
 */
export class WorkWaiters {
  private readonly entries = new Set<Entry>();
  private readonly off: () => void;

  constructor(store: Pick<Store, 'onWake'>) {
    this.off = store.onWake((w) => this.wake(w));
  }

  /** The waiters of `store`, made on first use and kept as long as the store. */
  static forStore(store: Pick<Store, 'onWake'>): WorkWaiters {
    let w = shared.get(store);
    if (!w) {
      w = new WorkWaiters(store);
      shared.set(store, w);
    }
    return w;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Registers a claim for wake-ups; call before claiming, so a commit during the claim is not missed. */
  listen(f: WaitFor): Listening {
    let resolve: () => void = () => {};
    const woke = new Promise<void>((r) => {
      resolve = r;
    });
    const entry: Entry = {
      types: f.types?.length ? new Set(f.types) : null,
      queues: f.queues?.length ? new Set(f.queues) : null,
      limit: Math.max(1, f.limit),
      got: undefined,
      fire: (w) => {
        entry.got = w;
        resolve();
      },
    };
    this.entries.add(entry);
    return {
      get woken() {
        return entry.got !== undefined;
      },
      wait: async (ms, signals) => {
        if (entry.got !== undefined) return;
        let timer: NodeJS.Timeout | undefined;
        let onAbort: () => void = () => {};
        const stop = new Promise<void>((r) => {
          timer = setTimeout(r, ms);
          onAbort = r;
        });
        for (const s of signals) s?.addEventListener('abort', onAbort, { once: true });
        try {
          if (signals.some((s) => s?.aborted)) return;
          await Promise.race([woke, stop]);
        } finally {
          clearTimeout(timer);
          for (const s of signals) s?.removeEventListener('abort', onAbort);
        }
      },
      done: (claimedAgain) => {
        this.entries.delete(entry);
        const got = entry.got;
        if (!claimedAgain && got) this.wake({ ...got, count: Math.min(got.count, entry.limit) });
      },
    };
  }

  /** Fires the waiters a wake-up is for (all of them for null); returns how many. */
  wake(w: Wake | null): number {
    let fired = 0;
    let left = w ? w.count : Number.POSITIVE_INFINITY;
    for (const e of this.entries) {
      if (left <= 0) break;
      if (e.got !== undefined) continue;
      if (w && !matches(e, w)) continue;
      e.fire(w);
      fired++;
      left -= e.limit;
    }
    return fired;
  }

  /** Stops hearing the store's wake-ups (for waiters made with `new`; forStore's live with the store). */
  close(): void {
    this.off();
  }
}

function matches(e: Entry, w: Wake): boolean {
  return (!e.queues || e.queues.has(w.queue)) && (!e.types || w.type === null || e.types.has(w.type));
}

/** A fallback poll interval spread over ±50 %, so a fleet's polls do not line up. */
export function jittered(ms: number): number {
  return Math.round(ms * (0.5 + Math.random()));
}

export interface ClaimWaiting extends WaitFor {
  waitMs: number;
  pollIntervalMs: number;
  /** Aborts the wait (the caller went away, the server closes). */
  signals: readonly (AbortSignal | undefined)[];
}

/**
 * Claims, and while nothing is claimed waits for a wake-up (or the jittered fallback poll, which
 * finds delayed tasks and backoffs, runnable without a commit) and claims again, up to waitMs.
 */
export async function claimOrWait<T>(
  waiters: WorkWaiters,
  req: ClaimWaiting,
  claim: () => Promise<T[]>,
): Promise<T[]> {
  const deadline = Date.now() + req.waitMs;
  const aborted = () => req.signals.some((s) => s?.aborted);
  for (;;) {
    const l = waiters.listen(req);
    let again = false;
    try {
      const tasks = await claim();
      const left = deadline - Date.now();
      if (tasks.length > 0 || left <= 0 || aborted()) return tasks;
      if (!l.woken) await l.wait(Math.min(left, jittered(req.pollIntervalMs)), req.signals);
      if (aborted()) return [];
      again = true;
    } finally {
      l.done(again);
    }
  }
}
