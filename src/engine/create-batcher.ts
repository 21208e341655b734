import { checkNewTask, hasFlowKey } from '../store/sql/validate.js';
import type { Store } from '../store/store.js';
import type { CreateTasksParams, CreateTasksResult } from '../store/types.js';
import { Batcher } from './batcher.js';

/** Calls of at most this many tasks are merged; bigger ones are a statement of their own already. */
const MERGE_UP_TO = 20;

/**
 * Group commit for creates. Concurrent small createTasks calls (a producer with many creates in
 * flight, or the server's POST /tasks under load) go out as one statement and one commit instead of
 * one each: measured in the `mixed` bench at 200 tasks/s on a loaded box, a create spent most of its
 * time waiting for a pool connection (call to transaction start: p50 171 ms) behind other creates
 * each paying their own commit. Each call keeps its own answer (its tasks and outcomes, in its
 * order) and its own errors: every task is checked before it joins (so a bad one is refused alone,
 * with the field names a lone call would get), and a merged statement that still fails is retried
 * in halves (Batcher), so one caller's failure never fails another's create. An idle batcher sends a
 * lone create at once, so a single create pays no extra latency.
 */
export class CreateBatcher {
  private readonly batchers = new Map<string, Batcher<CreateTasksParams, CreateTasksResult>>();

  constructor(private readonly store: Pick<Store, 'createTasks'>) {}

  createTasks(p: CreateTasksParams): Promise<CreateTasksResult> {
    // A debounced or throttled task waits on its key's row in a transaction of its own: merged, it
    // would hold up the plain creates of the same statement.
    if (
      !Array.isArray(p.tasks) ||
      p.tasks.length === 0 ||
      p.tasks.length > MERGE_UP_TO ||
      p.tasks.some(hasFlowKey)
    ) {
      return this.store.createTasks(p);
    }
    // Calls merge only with calls of the same options.
    const key = `${p.retry === true}\u0000${p.by ?? ''}`;
    let b = this.batchers.get(key);
    if (!b) {
      b = new Batcher((calls) => this.flush(calls), {
        maxBatch: 100,
        check: (call) => {
          for (const [i, t] of call.tasks.entries())
            checkNewTask(t, call.tasks.length === 1 ? '' : `tasks[${i}].`);
        },
      });
      this.batchers.set(key, b);
    }
    return b.add(p);
  }

  private async flush(calls: CreateTasksParams[]): Promise<CreateTasksResult[]> {
    if (calls.length === 1) return [await this.store.createTasks(calls[0]!)];
    const first = calls[0]!;
    const res = await this.store.createTasks({
      tasks: calls.flatMap((c) => c.tasks),
      ...(first.retry !== undefined ? { retry: first.retry } : {}),
      ...(first.by !== undefined ? { by: first.by } : {}),
    });
    // The store answers each input task at its index.
    let at = 0;
    return calls.map((c) => {
      const n = c.tasks.length;
      const out = { tasks: res.tasks.slice(at, at + n), outcomes: res.outcomes.slice(at, at + n) };
      at += n;
      return out;
    });
  }

  /** Resolves once every create added so far is answered. */
  async idle(): Promise<void> {
    await Promise.all([...this.batchers.values()].map((b) => b.idle()));
  }
}
