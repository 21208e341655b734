import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoreEvent } from '../../src/store/observability.js';
import type { Store } from '../../src/store/store.js';
import type { Task } from '../../src/store/types.js';
import { DRIVERS } from './helpers.js';

describe.each(DRIVERS)('store events ($name)', ({ make, drop }) => {
  let store: Store;
  const events: StoreEvent[] = [];
  let off: () => void;
  const q = `ev_${randomUUID().slice(0, 8)}`;
  const of = <N extends StoreEvent['event']>(name: N, taskId?: string) =>
    events.filter(
      (e): e is Extract<StoreEvent, { event: N }> =>
        e.event === name && (!taskId || ('taskId' in e && e.taskId === taskId)),
    );

  beforeAll(async () => {
    store = await make();
    off = store.onEvent((e) => events.push(e));
  });
  afterAll(async () => {
    off();
    await drop(store);
  });

  it('are delivered after commit: a listener already sees the row from another connection', async () => {
    const seen: Array<Promise<Task | null>> = [];
    const offLookup = store.onEvent((e) => {
      if (e.event === 'task_created') seen.push(store.findTask(e.taskId));
    });
    const { tasks } = await store.createTasks({
      tasks: [
        { type: 'a', queue: q },
        { type: 'b', queue: q },
      ],
    });
    offLookup();
    expect(of('task_created').map((e) => e.taskId)).toEqual(tasks.map((t) => t.id));
    expect((await Promise.all(seen)).map((t) => t?.id)).toEqual(tasks.map((t) => t.id));
  });

  it('carry pickup latency from the later of created-at and run-at, and attempt durations', async () => {
    const w = await store.registerWorker({ machineId: 'ev-machine', types: ['late'] });
    expect(of('worker_registered').at(-1)).toMatchObject({
      workerId: w.id,
      machineId: 'ev-machine',
      types: ['late'],
    });
    const { tasks } = await store.createTasks({
      tasks: [{ type: 'late', queue: q, runAt: new Date(Date.now() - 5000) }],
    });
    const [t] = await store.claimTasks({ workerId: w.id, queues: [q], limit: 1 });
    const claimed = of('task_claimed', t!.id)[0]!;
    expect(claimed).toMatchObject({ workerId: w.id, attempt: 1, type: 'late', queue: q });
    // Created just now with a run-at in the past: it waited since its creation, not since run-at.
    expect(claimed.pickupMs).toBeLessThan(4000);
    expect(claimed.pickupMs).toBe(
      Math.max(
        0,
        t!.startedAt!.getTime() - Math.max(tasks[0]!.createdAt.getTime(), tasks[0]!.runAt.getTime()),
      ),
    );
    await store.completeTasks([{ taskId: t!.id, attempt: 1, workerId: w.id, result: 1 }]);
    const done = of('task_completed', t!.id)[0]!;
    expect(done).toMatchObject({ workerId: w.id, attempt: 1, manualRetryMs: null });
    expect(done.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('name the next status of a failed attempt, and close a manual retry', async () => {
    const w = await store.registerWorker({ machineId: 'ev-machine-2', types: ['f'] });
    const { tasks } = await store.createTasks({ tasks: [{ type: 'f', queue: q, maxAttempts: 1 }] });
    const id = tasks[0]!.id;
    const [c1] = await store.claimTasks({ workerId: w.id, types: ['f'], limit: 1 });
    await store.failTask({ taskId: id, attempt: c1!.attempt, workerId: w.id, error: { message: 'boom' } });
    expect(of('task_failed', id)[0]).toMatchObject({
      outcome: 'failed',
      status: 'failed',
      final: true,
      error: 'boom',
      manualRetryMs: null,
    });
    expect(of('dead_lettered', id)[0]).toMatchObject({ attempts: 1, error: 'boom' });
    await store.retryTask({ taskId: id, by: 'bob', reason: 'try again' });
    expect(of('task_retried_by_hand', id)[0]).toMatchObject({
      by: 'bob',
      reason: 'try again',
      manualRetries: 1,
      attempt: 2,
    });
    const [c2] = await store.claimTasks({ workerId: w.id, types: ['f'], limit: 1 });
    await store.failTask({
      taskId: id,
      attempt: c2!.attempt,
      workerId: w.id,
      error: { message: 'boom again' },
    });
    const second = of('task_failed', id)[1]!;
    expect(second.final).toBe(true);
    expect(second.manualRetryMs).toBeGreaterThanOrEqual(0);
  });

  it('report stale, replaced and deregistered workers, and a listener that throws fails nothing', async () => {
    const offBad = store.onEvent(() => {
      throw new Error('observer bug');
    });
    const a = await store.registerWorker({ machineId: 'slot-machine', name: 'slot-1' });
    const b = await store.registerWorker({ machineId: 'slot-machine', name: 'slot-1' });
    offBad();
    expect(of('worker_stale').find((e) => e.workerId === a.id)?.reason).toContain(b.id);
    expect(of('worker_registered').at(-1)).toMatchObject({ workerId: b.id, replaced: [a.id] });
    await store.deregisterWorker({ workerId: b.id });
    expect(of('worker_deregistered').at(-1)).toEqual({
      event: 'worker_deregistered',
      workerId: b.id,
      reason: 'deregistered',
    });
    const c = await store.registerWorker({ machineId: 'silent-machine' });
    await store.markStaleWorkers({ now: new Date(Date.now() + 120_000) });
    expect(of('worker_stale').map((e) => e.workerId)).toContain(c.id);
  });

  it('report a cancellation before a run', async () => {
    const { tasks } = await store.createTasks({ tasks: [{ type: 'c', queue: q }] });
    await store.cancelTask({ taskId: tasks[0]!.id, by: 'carol', reason: 'not needed' });
    expect(of('task_cancelled', tasks[0]!.id)[0]).toMatchObject({
      by: 'carol',
      reason: 'not needed',
      attempt: 0,
    });
  });
});
