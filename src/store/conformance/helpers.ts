import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import { GafferError, type GafferErrorCode } from '../../core/errors.js';
import type { TaskStatus } from '../../core/states.js';
import type { Store, StoreOptions } from '../store.js';
import type { ClaimedTask, NewTask, RegisterWorkerParams, Task, TaskFilter, Worker } from '../types.js';

/** What every conformance file gets: the shared store of the run, and the factory for stores with custom options. */
export interface ConformanceContext {
  store(): Store;
  makeStore(opts?: Partial<StoreOptions>): Promise<Store>;
  dropStore(store: Store): Promise<void>;
}

/** A name no other test uses (queues, types, ids, machines, keys). */
export function uid(prefix: string): string {
  return `${prefix}_${randomUUID()}`;
}

/** A moment `ms` from now on the test's clock; pass it as `now` instead of sleeping. */
export function later(ms: number): Date {
  return new Date(Date.now() + ms);
}

/**
 * Awaits `promise` and asserts it rejects with a GafferError whose code is one of `codes`.
 * Returns the error for further checks.
 */
export async function expectGafferError(
  promise: Promise<unknown>,
  codes: GafferErrorCode | readonly GafferErrorCode[],
): Promise<GafferError> {
  const allowed: readonly GafferErrorCode[] = typeof codes === 'string' ? [codes] : codes;
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  if (caught === undefined) {
    throw new Error(`expected a GafferError with code ${allowed.join(' | ')}, but the call succeeded`);
  }
  expect(caught, `expected a GafferError, got ${String(caught)}`).toBeInstanceOf(GafferError);
  const err = caught as GafferError;
  expect(allowed, `error code "${err.code}" (${err.message})`).toContain(err.code);
  return err;
}

/** The fields of a task that a refused operation must leave untouched. */
export function snapshot(task: Task) {
  return {
    status: task.status,
    attempt: task.attempt,
    manualRetries: task.manualRetries,
    retryHistory: task.retryHistory,
    result: task.result,
    error: task.error,
    finishedAt: task.finishedAt?.getTime() ?? null,
    cancelRequested: task.cancelRequested,
  };
}

/** Asserts `actual` contains `expected` in order (other entries may come between). */
export function expectInOrder(
  actual: readonly string[],
  expected: readonly (string | readonly string[])[],
): void {
  let from = 0;
  for (const want of expected) {
    const options = typeof want === 'string' ? [want] : want;
    const at = actual.findIndex((k, i) => i >= from && options.includes(k));
    expect(
      at,
      `expected ${options.join(' or ')} after position ${from} in [${actual.join(', ')}]`,
    ).toBeGreaterThanOrEqual(0);
    from = at + 1;
  }
}

/** Statuses of the tasks matching `filter`, counted by paging through listTasks. */
export async function statusCounts(
  store: Store,
  filter: TaskFilter,
): Promise<Partial<Record<TaskStatus, number>>> {
  const counts: Partial<Record<TaskStatus, number>> = {};
  let cursor: string | undefined;
  for (;;) {
    const page = await store.listTasks({ ...filter, limit: 500, ...(cursor ? { cursor } : {}) });
    for (const t of page.items) counts[t.status] = (counts[t.status] ?? 0) + 1;
    if (!page.nextCursor) return counts;
    cursor = page.nextCursor;
  }
}

/** An attempt a worker holds: a claimed task, or a task read back while it runs. */
export type Held = Pick<Task, 'id' | 'attempt'> & { workerId: string | null };

/**
 * One test's private corner of the shared store: its own queue and task type, and
 * shortcuts to create, claim and finish tasks there.
 */
export interface Fixture {
  store: Store;
  queue: string;
  type: string;
  worker(params?: Partial<RegisterWorkerParams>): Promise<Worker>;
  create(task?: Partial<NewTask>): Promise<Task>;
  createMany(n: number, task?: Partial<NewTask>): Promise<Task[]>;
  claim(
    workerId: string,
    opts?: { limit?: number; now?: Date; types?: string[]; leaseMs?: number },
  ): Promise<ClaimedTask[]>;
  /** Claims exactly one task and asserts there was one; optionally asserts which. */
  claimOne(
    workerId: string,
    opts?: { now?: Date; expectId?: string; leaseMs?: number },
  ): Promise<ClaimedTask>;
  /**
   * A task created and claimed by a fresh worker. The claim takes the first runnable task
   * of the queue, so call this before creating other runnable tasks in the fixture's queue.
   */
  running(
    task?: Partial<NewTask>,
    opts?: { now?: Date; leaseMs?: number },
  ): Promise<{ task: ClaimedTask; worker: Worker }>;
  complete(task: Held, result?: NewTask['payload']): Promise<Task>;
  fail(task: Held, message?: string, opts?: { retryable?: boolean; now?: Date }): Promise<Task>;
  /** A task that ended `failed` (max attempts 1) on a fresh worker. */
  failed(task?: Partial<NewTask>): Promise<{ task: Task; worker: Worker }>;
}

export function fixture(store: Store): Fixture {
  const queue = uid('q');
  const type = uid('t');
  const fx: Fixture = {
    store,
    queue,
    type,
    worker: (params = {}) =>
      store.registerWorker({
        machineId: uid('m'),
        types: [type],
        queues: [queue],
        concurrency: 10,
        labels: {},
        ...params,
      }),
    async create(task = {}) {
      const { tasks } = await store.createTasks({ tasks: [{ type, queue, payload: { n: 1 }, ...task }] });
      expect(tasks).toHaveLength(1);
      return tasks[0]!;
    },
    async createMany(n, task = {}) {
      const { tasks } = await store.createTasks({
        tasks: Array.from({ length: n }, (_, i) => ({ type, queue, payload: { i }, ...task })),
      });
      expect(tasks).toHaveLength(n);
      return tasks;
    },
    claim: (workerId, opts = {}) =>
      store.claimTasks({
        workerId,
        queues: [queue],
        limit: opts.limit ?? 1,
        ...(opts.types ? { types: opts.types } : {}),
        ...(opts.now ? { now: opts.now } : {}),
        ...(opts.leaseMs ? { leaseMs: opts.leaseMs } : {}),
      }),
    async claimOne(workerId, opts = {}) {
      const claimed = await fx.claim(workerId, { limit: 1, ...opts });
      expect(claimed, 'expected one task to be claimed').toHaveLength(1);
      if (opts.expectId) expect(claimed[0]!.id).toBe(opts.expectId);
      return claimed[0]!;
    },
    async running(task = {}, opts = {}) {
      const created = await fx.create(task);
      const worker = await fx.worker();
      const claimed = await fx.claimOne(worker.id, { expectId: created.id, ...opts });
      return { task: claimed, worker };
    },
    async complete(task, result = { ok: true }) {
      const res = await store.completeTasks([
        { taskId: task.id, attempt: task.attempt, workerId: task.workerId ?? undefined, result },
      ]);
      expect(res.completed).toEqual([task.id]);
      return store.getTask(task.id);
    },
    fail(task, message = 'boom', opts = {}) {
      return store.failTask({
        taskId: task.id,
        attempt: task.attempt,
        workerId: task.workerId ?? undefined,
        error: { message, ...(opts.retryable === undefined ? {} : { retryable: opts.retryable }) },
        ...(opts.now ? { now: opts.now } : {}),
      });
    },
    async failed(task = {}) {
      const { task: run, worker } = await fx.running({ maxAttempts: 1, ...task });
      const dead = await fx.fail(run, 'boom');
      expect(dead.status).toBe('failed');
      return { task: dead, worker };
    },
  };
  return fx;
}
