import { describe, expect, it } from 'vitest';
import { TASK_STATUSES } from '../../core/states.js';
import type { Store } from '../store.js';
import { type ConformanceContext, fixture, later, statusCounts, uid } from './helpers.js';

const HOUR = 3_600_000;
const STATUSES = TASK_STATUSES;

/**
 * The counts by status of a queue (and of each of its types) from every read that serves them
 * (countTasks, queueStats, metricsSnapshot) must equal the ground truth: the tasks themselves, as
 * listTasks pages through them and as a count(*) query counts them (countTasks with a filter the
 * counters cannot answer).
 */
async function expectExact(store: Store, queue: string, types: string[], step: string): Promise<void> {
  const truth = await statusCounts(store, { queue });
  const want: Record<string, number> = { total: 0 };
  for (const s of STATUSES) {
    want[s] = truth[s] ?? 0;
    want.total = (want.total ?? 0) + (truth[s] ?? 0);
  }
  expect(await store.countTasks({ queue }), `countTasks after ${step}`).toEqual(want);
  // A filter the counters cannot answer is counted by a query of the tasks: the same numbers.
  expect(await store.countTasks({ queue, createdAfter: new Date(0) }), `count(*) after ${step}`).toEqual(
    want,
  );
  for (const type of types) {
    const byType = await statusCounts(store, { queue, type });
    const counted = await store.countTasks({ queue, type });
    for (const s of STATUSES) expect(counted[s], `${type} ${s} after ${step}`).toBe(byType[s] ?? 0);
    const failed = await store.countTasks({ queue, type, status: 'failed' });
    expect(failed.failed, `${type} failed only, after ${step}`).toBe(byType.failed ?? 0);
    expect(failed.total).toBe(byType.failed ?? 0);
  }
  const stats = (await store.queueStats()).filter((s) => s.queue === queue);
  const fromStats = Object.fromEntries(stats.map((s) => [s.status, s.count]));
  for (const s of STATUSES) expect(fromStats[s] ?? 0, `queueStats ${s} after ${step}`).toBe(want[s]);
  const snap = await store.metricsSnapshot();
  for (const s of ['queued', 'running', 'retrying'] as const) {
    const d = snap.depth.filter((x) => x.queue === queue && x.status === s).reduce((a, x) => a + x.count, 0);
    expect(d, `metrics depth ${s} after ${step}`).toBe(want[s]);
  }
  const dead = snap.deadLetters.filter((x) => x.queue === queue).reduce((a, x) => a + x.count, 0);
  expect(dead, `metrics dead letters after ${step}`).toBe(want.failed);
}

export function countTests(ctx: ConformanceContext): void {
  describe('counts', () => {
    it('counts by queue, type and status stay exact through every change of state', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const other = uid('t');
      const types = [fx.type, other];
      const check = (step: string) => expectExact(store, fx.queue, types, step);
      await check('nothing');

      await fx.createMany(6, { maxAttempts: 2 });
      await store.createTasks({
        tasks: [
          { type: other, queue: fx.queue },
          { type: other, queue: fx.queue },
        ],
      });
      await check('create');

      const worker = await fx.worker({ types });
      const claimed = await fx.claim(worker.id, { limit: 5, types: [fx.type] });
      expect(claimed).toHaveLength(5);
      await check('claim');

      const [a, b, c, d, e] = claimed as [
        (typeof claimed)[0],
        (typeof claimed)[0],
        (typeof claimed)[0],
        (typeof claimed)[0],
        (typeof claimed)[0],
      ];
      await fx.complete({ ...a, workerId: worker.id });
      await check('complete');
      expect((await fx.fail({ ...b, workerId: worker.id }, 'again', { retryable: true })).status).toBe(
        'retrying',
      );
      await check('fail and retry');
      expect((await fx.fail({ ...c, workerId: worker.id }, 'dead', { retryable: false })).status).toBe(
        'failed',
      );
      await check('fail for good');
      expect(await store.handBackTasks([{ taskId: d.id, attempt: d.attempt, workerId: worker.id }])).toEqual([
        d.id,
      ]);
      await check('hand back');
      await store.cancelTask({ taskId: e.id, reason: 'no longer wanted' });
      await check('cancel requested of a running task');

      // The lease of what the worker still runs lapses (e's cancel ends it as cancelled).
      const rescue = await store.rescueLeases({ now: later(HOUR) });
      expect(rescue.lost + rescue.timedOut).toBeGreaterThanOrEqual(1);
      await check('lease lapse');

      const queued = (await store.listTasks({ queue: fx.queue, type: other, limit: 10 })).items;
      await store.cancelTask({ taskId: queued[0]!.id });
      await check('cancel of a queued task');
      expect((await store.retryTask({ taskId: c.id })).status).not.toBe('failed');
      await check('retry by hand');
      await store.deleteTask(queued[0]!.id);
      await check('delete');
      expect(await store.deleteTasks({ queue: fx.queue, type: other })).toBe(1);
      await check('bulk delete');
      await store.cancelTasks({ filter: { queue: fx.queue, status: 'queued' } });
      await check('bulk cancel');

      const signal = await fx.create({ waitFor: { signal: true } });
      const dependent = await fx.create({ dependsOn: [signal.id] });
      await check('create waiting tasks');
      await store.signalTask({ taskId: signal.id });
      await check('a signal');
      await store.cancelTask({ taskId: signal.id });
      expect((await store.getTask(dependent.id)).status).toBe('cancelled');
      await check('a dependency cancelled');

      await store.prune({ olderThanMs: HOUR, now: later(2 * HOUR) });
      await check('prune');
      await store.foldCounts();
      await check('fold');
    });

    it('counts of many concurrent claims and completions on several connections add up', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      await fx.createMany(60);
      const workers = await Promise.all([fx.worker(), fx.worker(), fx.worker()]);
      await Promise.all(
        workers.map(async (w) => {
          for (;;) {
            const got = await fx.claim(w.id, { limit: 4 });
            if (got.length === 0) return;
            await store.completeTasks(got.map((t) => ({ taskId: t.id, attempt: t.attempt, workerId: w.id })));
          }
        }),
      );
      expect((await store.countTasks({ queue: fx.queue })).completed).toBe(60);
      await expectExact(store, fx.queue, [fx.type], 'a concurrent drain');
      await store.foldCounts();
      await expectExact(store, fx.queue, [fx.type], 'a concurrent drain, folded');
    });

    it('the oldest age and the waiting count leave out tasks scheduled for later', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      await fx.create({ runAt: new Date(Date.now() - 60_000) });
      await fx.create({ runAt: later(HOUR) });
      await fx.create({ runAt: later(HOUR) });
      const stat = (await store.queueStats()).find((s) => s.queue === fx.queue && s.status === 'queued');
      expect(stat?.count).toBe(3);
      expect(stat?.oldestAgeMs).toBeGreaterThanOrEqual(59_000);
      const waiting = (await store.metricsSnapshot()).waiting.filter((w) => w.queue === fx.queue);
      expect(waiting).toHaveLength(1);
      expect(waiting[0]).toMatchObject({ type: fx.type, count: 1 });
      expect(waiting[0]!.oldestAgeMs).toBeGreaterThanOrEqual(59_000);

      const future = fixture(store);
      await future.create({ runAt: later(HOUR) });
      const fs = (await store.queueStats()).find((s) => s.queue === future.queue);
      expect(fs).toMatchObject({ status: 'queued', count: 1, oldestAgeMs: null });
      expect((await store.metricsSnapshot()).waiting.filter((w) => w.queue === future.queue)).toEqual([]);
    });
  });
}
