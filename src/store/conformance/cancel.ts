import { describe, expect, it } from 'vitest';
import type { GafferErrorCode } from '../../core/errors.js';
import {
  type ConformanceContext,
  expectGafferError,
  expectInOrder,
  fixture,
  later,
  snapshot,
  uid,
} from './helpers.js';

const REFUSED: GafferErrorCode[] = ['illegal_transition', 'not_eligible', 'conflict'];

/** R1.7, R2.6: cancelling one task, running tasks through the heartbeat, and in bulk. */
export function cancelTests(ctx: ConformanceContext): void {
  describe('cancel', () => {
    it('cancels a queued task at once, and it is never claimed', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const task = await fx.create();
      const cancelled = await store.cancelTask({ taskId: task.id, by: 'ops', reason: 'not needed' });
      expect(cancelled.status).toBe('cancelled');
      expect(cancelled.finishedAt).toBeInstanceOf(Date);
      expectInOrder(
        (await store.getTaskEvents(task.id)).map((e) => e.kind),
        ['created', 'cancelled'],
      );
      const worker = await fx.worker();
      expect(await fx.claim(worker.id, { limit: 5, now: later(30_000) })).toEqual([]);
    });

    it('cancels a retrying task at once', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task, worker } = await fx.running();
      expect((await fx.fail(task)).status).toBe('retrying');
      const cancelled = await store.cancelTask({ taskId: task.id });
      expect(cancelled.status).toBe('cancelled');
      expect(await fx.claim(worker.id, { limit: 5, now: later(30_000) })).toEqual([]);
    });

    it('asks the holder of a running task through its heartbeat; the holder’s failure ends it cancelled', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task, worker } = await fx.running();
      const requested = await store.cancelTask({ taskId: task.id, by: 'ops' });
      expect(requested).toMatchObject({ status: 'running', cancelRequested: true, workerId: worker.id });

      const hb = await store.heartbeat({ workerId: worker.id });
      expect(hb.live).toBe(true);
      expect(hb.cancelled).toEqual([expect.objectContaining({ taskId: task.id, attempt: task.attempt })]);

      const ended = await fx.fail(task, 'aborted by signal');
      expect(ended.status).toBe('cancelled');
      expect(ended.finishedAt).toBeInstanceOf(Date);
      expect((await store.getTaskEvents(task.id)).map((e) => e.kind)).toContain('cancelled');
      expect(await fx.claim(worker.id, { limit: 5, now: later(30_000) })).toEqual([]);
    });

    it('a running task whose lease lapses after a cancel request ends cancelled, not retried', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task } = await fx.running();
      await store.cancelTask({ taskId: task.id });
      const res = await store.rescueLeases({ now: later(31_000) });
      expect(res.cancelled).toBeGreaterThanOrEqual(1);
      expect((await store.getTask(task.id)).status).toBe('cancelled');
    });

    it('a heartbeat reports only this worker’s cancelled tasks', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task: mine, worker } = await fx.running();
      const { task: theirs } = await fx.running();
      await store.cancelTask({ taskId: theirs.id });
      expect((await store.heartbeat({ workerId: worker.id })).cancelled).toEqual([]);
      await store.cancelTask({ taskId: mine.id });
      const hb = await store.heartbeat({ workerId: worker.id });
      expect(hb.cancelled.map((c) => c.taskId)).toEqual([mine.id]);
    });

    it('refuses to cancel a completed or failed task and leaves it unchanged', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task: run } = await fx.running();
      const completed = await fx.complete(run);
      const { task: failed } = await fx.failed();
      for (const t of [completed, failed]) {
        await expectGafferError(store.cancelTask({ taskId: t.id }), REFUSED);
        expect(snapshot(await store.getTask(t.id))).toEqual(snapshot(t));
      }
      await expectGafferError(store.cancelTask({ taskId: uid('missing') }), 'not_found');
    });

    it('cancelTasks cancels the unfinished tasks matching a filter and reports them', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task: toComplete } = await fx.running();
      const completed = await fx.complete(toComplete);
      const { task: toRetry } = await fx.running();
      const retrying = await fx.fail(toRetry);
      const queued = await fx.createMany(2);
      const otherType = uid('t');
      const { tasks: others } = await store.createTasks({ tasks: [{ type: otherType, queue: fx.queue }] });

      const res = await store.cancelTasks({ filter: { queue: fx.queue, type: fx.type }, by: 'ops' });
      const expected = [...queued.map((t) => t.id), retrying.id];
      expect(res.changed).toBe(3);
      expect(res.matched).toBeGreaterThanOrEqual(3);
      expect([...res.ids].sort()).toEqual(expected.sort());
      for (const id of expected) expect((await store.getTask(id)).status).toBe('cancelled');
      expect((await store.getTask(completed.id)).status).toBe('completed');
      expect((await store.getTask(others[0]!.id)).status).toBe('queued');
    });
  });
}
