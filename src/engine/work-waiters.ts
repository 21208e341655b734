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
  group: PollGroup;
  /** Inside wait(): neither claiming nor done, so a fallback poll may choose it. */
  waiting: boolean;
  /** The wake-up that fired this entry (null: a wake of everything or a poll); undefined while unfired. */
  got: Wake | null | undefined;
  /** Fired by its group's fallback poll rather than by a commit. */
  polled: boolean;
  fire: (w: Wake | null) => void;
}

/** The waiters that claim the same types and queues, and the one fallback poll they share. */
interface PollGroup {
  key: string;
  entries: Set<Entry>;
  pollMs: number;
  timer: NodeJS.Timeout | undefined;
}

/** A claim registered for wake-ups: `woken` once a wake-up chose it. */
export interface Listening {
  readonly woken: boolean;
  /** Woken by its group's fallback poll (a turn to look for tasks that became due without a commit). */
  readonly polled: boolean;
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
 *
 * Tasks that become due without a commit (a run-at or a backoff that passes) wake no one, so waiters
 * poll; but the waiters that claim the same types and queues share one jittered fallback poll, taken
 * in turn (longest waiting first): 500 idle long-polls of one type cost one claim per poll interval,
 * not 500. A poll that finds tasks hands the turn on at once, so a batch that fell due is taken at the
 * speed of claims, not of polls.
 */
export class WorkWaiters {
  private readonly entries = new Set<Entry>();
  private readonly groups = new Map<string, PollGroup>();
  /** Wake-ups due later (a rate window that opens then), one timer per queue, type and 10 ms. */
  private readonly timed = new Map<string, NodeJS.Timeout>();
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

  /**
   * Registers a claim for wake-ups; call before claiming, so a commit during the claim is not missed.
   * `pollIntervalMs` joins the claim to the fallback poll of the waiters of its types and queues.
   */
  listen(f: WaitFor & { pollIntervalMs?: number }): Listening {
    let resolve: () => void = () => {};
    const woke = new Promise<void>((r) => {
      resolve = r;
    });
    const group = this.groupOf(f);
    const entry: Entry = {
      types: f.types?.length ? new Set(f.types) : null,
      queues: f.queues?.length ? new Set(f.queues) : null,
      limit: Math.max(1, f.limit),
      group,
      waiting: false,
      got: undefined,
      polled: false,
      fire: (w) => {
        entry.got = w;
        resolve();
      },
    };
    this.entries.add(entry);
    group.entries.add(entry);
    if (f.pollIntervalMs !== undefined) {
      group.pollMs = Math.min(group.pollMs, f.pollIntervalMs);
      this.schedulePoll(group);
    }
    return {
      get woken() {
        return entry.got !== undefined;
      },
      get polled() {
        return entry.polled;
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
        entry.waiting = true;
        try {
          if (signals.some((s) => s?.aborted)) return;
          await Promise.race([woke, stop]);
        } finally {
          entry.waiting = false;
          clearTimeout(timer);
          for (const s of signals) s?.removeEventListener('abort', onAbort);
        }
      },
      done: (claimedAgain) => {
        this.entries.delete(entry);
        group.entries.delete(entry);
        if (group.entries.size === 0) {
          clearTimeout(group.timer);
          this.groups.delete(group.key);
        }
        const got = entry.got;
        if (!claimedAgain && got) this.wake({ ...got, count: Math.min(got.count, entry.limit) });
      },
    };
  }

  private groupOf(f: WaitFor): PollGroup {
    const key = groupKey(f);
    let g = this.groups.get(key);
    if (!g) {
      g = { key, entries: new Set(), pollMs: Number.POSITIVE_INFINITY, timer: undefined };
      this.groups.set(key, g);
    }
    return g;
  }

  private schedulePoll(g: PollGroup): void {
    if (g.timer || !Number.isFinite(g.pollMs)) return;
    g.timer = setTimeout(() => {
      g.timer = undefined;
      if (this.groups.get(g.key) !== g) return;
      this.pollTurn(g);
      this.schedulePoll(g);
    }, jittered(g.pollMs));
    g.timer.unref?.();
  }

  /** Fires the group's longest-waiting claim to look for due tasks; false when none is waiting. */
  private pollTurn(g: PollGroup): boolean {
    for (const e of g.entries) {
      if (!e.waiting || e.got !== undefined) continue;
      e.polled = true;
      e.fire(null);
      return true;
    }
    return false;
  }

  /** After a fallback poll found tasks: the next waiting claim of the same types and queues looks at once. */
  handOnPoll(f: WaitFor): void {
    const g = this.groups.get(groupKey(f));
    if (g) this.pollTurn(g);
  }

  /** Fires the waiters a wake-up is for (all of them for null); returns how many. */
  wake(w: Wake | null): number {
    if (w?.delayMs !== undefined && w.delayMs > 0) {
      this.wakeLater(w, w.delayMs);
      return 0;
    }
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

  private wakeLater(w: Wake, delayMs: number): void {
    const due = Math.ceil((Date.now() + delayMs) / 10);
    const key = `${w.queue}\t${w.type}\t${due}`;
    if (this.timed.has(key)) return;
    const timer = setTimeout(
      () => {
        this.timed.delete(key);
        this.wake({ queue: w.queue, type: w.type, count: w.count });
      },
      due * 10 - Date.now(),
    );
    timer.unref?.();
    this.timed.set(key, timer);
  }

  /** Stops hearing the store's wake-ups (for waiters made with `new`; forStore's live with the store). */
  close(): void {
    this.off();
    for (const t of this.timed.values()) clearTimeout(t);
    this.timed.clear();
  }
}

function groupKey(f: WaitFor): string {
  const list = (xs: readonly string[] | null | undefined) => [...new Set(xs ?? [])].sort().join('\u0000');
  return `${list(f.types)}\u0001${list(f.queues)}`;
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
 * Claims, and while nothing is claimed waits for a wake-up (or its turn of the shared fallback poll,
 * which finds delayed tasks and backoffs, runnable without a commit) and claims again, up to waitMs.
 */
export async function claimOrWait<T>(
  waiters: WorkWaiters,
  req: ClaimWaiting,
  claim: () => Promise<T[]>,
): Promise<T[]> {
  const deadline = Date.now() + req.waitMs;
  const aborted = () => req.signals.some((s) => s?.aborted);
  let polled = false;
  for (;;) {
    const l = waiters.listen(req);
    let again = false;
    try {
      const tasks = await claim();
      if (polled && tasks.length > 0) waiters.handOnPoll(req);
      const left = deadline - Date.now();
      if (tasks.length > 0 || left <= 0 || aborted()) return tasks;
      if (!l.woken) await l.wait(left, req.signals);
      if (aborted()) return [];
      polled = l.polled;
      again = true;
    } finally {
      l.done(again);
    }
  }
}
