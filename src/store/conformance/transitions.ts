import { describe, expect, it } from 'vitest';
import type { GafferErrorCode } from '../../core/errors.js';
import { isLegalTransition, TASK_STATUSES, type TaskStatus } from '../../core/states.js';
import type { Store } from '../store.js';
import type { AttemptRef, Task, Worker } from '../types.js';
import {
  type ConformanceContext,
  expectGafferError,
  type Fixture,
  fixture,
  type Held,
  later,
  snapshot,
} from './helpers.js';

/** Codes a refused state change may carry. */
const REFUSED: GafferErrorCode[] = ['illegal_transition', 'not_eligible', 'conflict'];
/** Codes a write by an attempt that does not hold the task may carry. */
const FENCED: GafferErrorCode[] = ['lease_lost', 'illegal_transition'];

interface Subject {
  store: Store;
  fx: Fixture;
  task: Task;
  /** The worker that ran the task's last attempt (a fresh one if it never ran). */
  worker: Worker;
  /** The last attempt's fencing reference. */
  ref: AttemptRef;
}

/** A task brought into `status` through ordinary operations only. */
async function inState(store: Store, status: TaskStatus): Promise<Subject> {
  const fx = fixture(store);
  const make = async (): Promise<{ task: Held; worker: Worker }> => {
    switch (status) {
      case 'waiting':
        return {
          task: await fx.create({ waitFor: { signal: true, timeoutMs: 3_600_000 } }),
          worker: await fx.worker(),
        };
      case 'queued':
        return { task: await fx.create(), worker: await fx.worker() };
      case 'running':
        return fx.running();
      case 'retrying': {
        const { task, worker } = await fx.running();
        return { task: await fx.fail(task, 'transient'), worker };
      }
      case 'completed': {
        const { task, worker } = await fx.running();
        return { task: await fx.complete(task), worker };
      }
      case 'failed':
        return fx.failed();
      case 'cancelled': {
        const { task, worker } = await fx.running();
        await store.cancelTask({ taskId: task.id });
        return { task: await fx.fail(task, 'aborted'), worker };
      }
    }
  };
  const made = await make();
  const task = await store.getTask(made.task.id);
  const worker = made.worker;
  expect(task.status).toBe(status);
  return {
    store,
    fx,
    task,
    worker,
    ref: { taskId: task.id, attempt: Math.max(1, task.attempt), workerId: worker.id },
  };
}

interface Scenario {
  from: TaskStatus;
  to: TaskStatus;
  how: string;
  run(s: Subject): Promise<void>;
}

const claimAfterBackoff = async ({ store, fx, task, worker }: Subject) => {
  const claimed = await fx.claimOne(worker.id, { now: later(10_000), expectId: task.id });
  expect(claimed.attempt).toBeGreaterThan(task.attempt);
  expect((await store.getTask(task.id)).status).toBe('running');
};

const LEGAL: Scenario[] = [
  {
    from: 'queued',
    to: 'running',
    how: 'a live worker claims it',
    run: async ({ store, fx, task, worker }) => {
      await fx.claimOne(worker.id, { expectId: task.id });
      expect((await store.getTask(task.id)).status).toBe('running');
    },
  },
  {
    from: 'queued',
    to: 'cancelled',
    how: 'cancelTask',
    run: async ({ store, task }) =>
      expect((await store.cancelTask({ taskId: task.id })).status).toBe('cancelled'),
  },
  {
    from: 'retrying',
    to: 'cancelled',
    how: 'cancelTask',
    run: async ({ store, task }) =>
      expect((await store.cancelTask({ taskId: task.id })).status).toBe('cancelled'),
  },
  {
    from: 'running',
    to: 'completed',
    how: 'the holder completes it',
    run: async ({ fx, task }) => expect((await fx.complete(task)).status).toBe('completed'),
  },
  {
    from: 'running',
    to: 'retrying',
    how: 'the holder fails it with attempts left',
    run: async ({ fx, task }) => expect((await fx.fail(task)).status).toBe('retrying'),
  },
  {
    from: 'running',
    to: 'queued',
    how: 'the holder hands it back',
    run: async ({ store, task, ref }) => {
      expect(await store.handBackTasks([ref])).toEqual([task.id]);
      expect((await store.getTask(task.id)).status).toBe('queued');
    },
  },
  {
    from: 'running',
    to: 'failed',
    how: 'the holder fails it with a non-retryable error',
    run: async ({ fx, task }) =>
      expect((await fx.fail(task, 'fatal', { retryable: false })).status).toBe('failed'),
  },
  {
    from: 'running',
    to: 'cancelled',
    how: 'a cancel request reaches the holder, which stops',
    run: async ({ store, fx, task }) => {
      await store.cancelTask({ taskId: task.id });
      expect((await fx.fail(task, 'aborted')).status).toBe('cancelled');
    },
  },
  {
    from: 'retrying',
    to: 'queued',
    how: 'its backoff passes and it is runnable again',
    run: claimAfterBackoff,
  },
  { from: 'retrying', to: 'running', how: 'a worker claims it after its backoff', run: claimAfterBackoff },
  {
    from: 'failed',
    to: 'retrying',
    how: 'retried by hand',
    run: async ({ store, task }) =>
      expect((await store.retryTask({ taskId: task.id, by: 't' })).status).toBe('retrying'),
  },
  {
    from: 'cancelled',
    to: 'retrying',
    how: 'retried by hand',
    run: async ({ store, task }) =>
      expect((await store.retryTask({ taskId: task.id, by: 't' })).status).toBe('retrying'),
  },
];

const refuseWait = async ({ store, ref }: Subject) => {
  await expectGafferError(store.waitForSignal(ref), FENCED);
  await expectGafferError(store.spawnChildren({ ...ref, children: [{ type: 'never.created' }] }), FENCED);
};

const WAITING: Scenario[] = [
  {
    from: 'queued',
    to: 'waiting',
    how: 'created with a dependency: it waits from its creating transaction on',
    run: async ({ store, fx, task }) => {
      const dependent = await fx.create({ dependsOn: [task.id] });
      expect(dependent.status).toBe('waiting');
      await expectListedUnderItsStatus(store, dependent.id);
    },
  },
  {
    from: 'running',
    to: 'waiting',
    how: 'the holder waits for a signal (or spawns children)',
    run: async ({ store, task, ref }) => {
      expect((await store.waitForSignal(ref)).status).toBe('waiting');
      expect((await store.getTask(task.id)).attemptFloor).toBe(task.attemptFloor + 1);
    },
  },
  {
    from: 'waiting',
    to: 'queued',
    how: 'the signal it waits for comes',
    run: async ({ store, task }) =>
      expect((await store.signalTask({ taskId: task.id, data: { ok: 1 } })).status).toBe('queued'),
  },
  {
    from: 'waiting',
    to: 'cancelled',
    how: 'cancelTask',
    run: async ({ store, task }) =>
      expect((await store.cancelTask({ taskId: task.id })).status).toBe('cancelled'),
  },
  {
    from: 'waiting',
    to: 'failed',
    how: 'its signal wait times out (policy fail)',
    run: async ({ store, task }) => {
      const out = await store.expireWaits({ now: later(2 * 3_600_000) });
      expect(out.failed).toContain(task.id);
      expect((await store.getTask(task.id)).status).toBe('failed');
    },
  },
];

const refuseComplete = async ({ store, ref }: Subject) => {
  const res = await store.completeTasks([
    { ...ref, result: 'nope' },
    { ...ref, attempt: ref.attempt + 1, result: 'nope' },
  ]);
  expect(res.completed).toEqual([]);
  expect(res.refused).toHaveLength(2);
};
const refuseFail = async ({ store, ref }: Subject) => {
  await expectGafferError(store.failTask({ ...ref, error: { message: 'nope' } }), FENCED);
};
const refuseClaim = async ({ fx, worker }: Subject) => {
  expect(await fx.claim(worker.id, { limit: 5, now: later(50_000) })).toEqual([]);
};
const refuseHandBack = async ({ store, ref }: Subject) => {
  expect(await store.handBackTasks([ref])).toEqual([]);
};
const refuseCancel = async ({ store, task }: Subject) => {
  await expectGafferError(store.cancelTask({ taskId: task.id }), REFUSED);
};
const refuseRetry = async ({ store, task }: Subject) => {
  await expectGafferError(store.retryTask({ taskId: task.id, by: 't' }), REFUSED);
};

const ILLEGAL: Scenario[] = [
  { from: 'queued', to: 'completed', how: 'completeTasks is refused', run: refuseComplete },
  { from: 'queued', to: 'failed', how: 'failTask is refused', run: refuseFail },
  { from: 'queued', to: 'retrying', how: 'retryTask is refused', run: refuseRetry },
  {
    from: 'retrying',
    to: 'completed',
    how: 'completeTasks by the last attempt is refused',
    run: refuseComplete,
  },
  { from: 'retrying', to: 'failed', how: 'failTask by the last attempt is refused', run: refuseFail },
  { from: 'completed', to: 'queued', how: 'handBackTasks is ignored', run: refuseHandBack },
  { from: 'completed', to: 'running', how: 'it is never claimed again', run: refuseClaim },
  {
    from: 'completed',
    to: 'retrying',
    how: 'retryTask and re-sending with retry: true are refused',
    run: async (s) => {
      await refuseRetry(s);
      await s.store.createTasks({
        tasks: [{ id: s.task.id, type: s.fx.type, queue: s.fx.queue }],
        retry: true,
      });
    },
  },
  { from: 'completed', to: 'failed', how: 'failTask is refused', run: refuseFail },
  { from: 'completed', to: 'cancelled', how: 'cancelTask is refused', run: refuseCancel },
  { from: 'failed', to: 'queued', how: 'handBackTasks is ignored', run: refuseHandBack },
  { from: 'failed', to: 'running', how: 'it is not claimed', run: refuseClaim },
  { from: 'failed', to: 'completed', how: 'completeTasks is refused', run: refuseComplete },
  { from: 'failed', to: 'cancelled', how: 'cancelTask is refused', run: refuseCancel },
  { from: 'cancelled', to: 'queued', how: 'handBackTasks is ignored', run: refuseHandBack },
  { from: 'cancelled', to: 'running', how: 'it is not claimed', run: refuseClaim },
  { from: 'cancelled', to: 'completed', how: 'completeTasks is refused', run: refuseComplete },
  { from: 'cancelled', to: 'failed', how: 'failTask is refused', run: refuseFail },
  { from: 'waiting', to: 'running', how: 'it is not claimed', run: refuseClaim },
  { from: 'waiting', to: 'retrying', how: 'retryTask is refused', run: refuseRetry },
  { from: 'waiting', to: 'completed', how: 'completeTasks is refused', run: refuseComplete },
  { from: 'retrying', to: 'waiting', how: 'a wait by its last attempt is refused', run: refuseWait },
  { from: 'completed', to: 'waiting', how: 'a wait is refused', run: refuseWait },
  { from: 'failed', to: 'waiting', how: 'a wait is refused', run: refuseWait },
  { from: 'cancelled', to: 'waiting', how: 'a wait is refused', run: refuseWait },
];

/**
 * Filtering by status finds a task exactly under the status it has: the unfinished ones are listed
 * from the store's active set, so this holds only if every transition keeps that set in step.
 */
async function expectListedUnderItsStatus(store: Store, taskId: string): Promise<void> {
  const { status } = await store.getTask(taskId);
  for (const s of TASK_STATUSES) {
    const page = await store.listTasks({ ids: [taskId], status: s });
    expect(
      page.items.map((t) => t.id),
      `listed under ${s} while ${status}`,
    ).toEqual(s === status ? [taskId] : []);
    expect((await store.countTasks({ ids: [taskId], status: s }))[s]).toBe(s === status ? 1 : 0);
  }
}

const pairs = (list: Scenario[]) => list.map((s) => `${s.from} -> ${s.to}`).sort();

/** The SPEC's state table, walked through the store: every legal move is reachable, every other one refused. */
export function transitionTests(ctx: ConformanceContext): void {
  describe('task state transitions', () => {
    it('the scenarios below cover every pair of the state table', () => {
      const legal: string[] = [];
      const illegal: string[] = [];
      for (const from of TASK_STATUSES) {
        for (const to of TASK_STATUSES) {
          if (from === to) continue;
          (isLegalTransition(from, to) ? legal : illegal).push(`${from} -> ${to}`);
        }
      }
      expect(pairs([...LEGAL, ...WAITING])).toEqual(legal.sort());
      expect(pairs(ILLEGAL)).toEqual(illegal.sort());
    });

    describe('legal', () => {
      for (const s of [...LEGAL, ...WAITING]) {
        it(`${s.from} -> ${s.to}: ${s.how}`, async () => {
          const subject = await inState(ctx.store(), s.from);
          await expectListedUnderItsStatus(subject.store, subject.task.id);
          await s.run(subject);
          await expectListedUnderItsStatus(subject.store, subject.task.id);
        });
      }
    });

    describe('refused', () => {
      for (const s of ILLEGAL) {
        it(`${s.from} -/-> ${s.to}: ${s.how}`, async () => {
          const subject = await inState(ctx.store(), s.from);
          const before = await subject.store.getTask(subject.task.id);
          await s.run(subject);
          const after = await subject.store.getTask(subject.task.id);
          expect(after.status).toBe(s.from);
          expect(snapshot(after)).toEqual(snapshot(before));
          await expectListedUnderItsStatus(subject.store, subject.task.id);
        });
      }
    });
  });
}
