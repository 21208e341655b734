import { describe, expect, it } from 'vitest';
import { type ConformanceContext, expectGafferError, fixture } from './helpers.js';

/** Issue 14, item 3: a handler reports a provider's rate limit; the task waits without spending an attempt. */
export function rateLimitedTests(ctx: ConformanceContext): void {
  describe('rateLimitTask', () => {
    it('queues the task again at now + retryAfterMs, attempt not spent, with a rate_limited event', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task, worker } = await fx.running();
      const now = new Date(Date.now() + 1000);
      const { until } = await store.rateLimitTask({
        taskId: task.id,
        attempt: task.attempt,
        workerId: worker.id,
        retryAfterMs: 5000,
        reason: '429 from the provider',
        now,
      });
      expect(until.getTime()).toBe(now.getTime() + 5000);
      const read = await store.getTask(task.id);
      expect(read).toMatchObject({ status: 'queued', attempt: 1, attemptFloor: 1, workerId: null });
      expect(read.runAt.getTime()).toBe(until.getTime());
      const events = await store.getTaskEvents(task.id);
      expect(events.map((e) => e.kind)).toEqual(['created', 'claimed', 'rate_limited']);
      const ev = events[2]!;
      expect(ev.attempt).toBe(1);
      expect(ev.workerId).toBe(worker.id);
      expect(ev.data).toMatchObject({ retryAfterMs: 5000, reason: '429 from the provider' });
      expect(new Date(ev.data!.until as string).getTime()).toBe(until.getTime());

      expect(await fx.claim(worker.id, { now: new Date(until.getTime() - 100) })).toHaveLength(0);
      const again = await fx.claimOne(worker.id, { now: new Date(until.getTime() + 1), expectId: task.id });
      expect(again.attempt).toBe(2);
    });

    it('spends no attempt however often it happens', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task: first, worker } = await fx.running({ maxAttempts: 2 });
      let held = first;
      for (let i = 0; i < 3; i++) {
        await store.rateLimitTask({
          taskId: held.id,
          attempt: held.attempt,
          workerId: worker.id,
          retryAfterMs: 0,
        });
        held = await fx.claimOne(worker.id, { expectId: first.id });
      }
      expect(held.attempt).toBe(4);
      // The first attempt that ran to its end: one of two spent, so a failure retries.
      const failed = await fx.fail(held, 'boom');
      expect(failed.status).toBe('retrying');
    });

    it('is fenced by attempt and worker: a write that no longer holds the task is refused', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task, worker } = await fx.running();
      const other = await fx.worker();
      const ref = { taskId: task.id, retryAfterMs: 1000 };
      await expectGafferError(store.rateLimitTask({ ...ref, attempt: 2, workerId: worker.id }), 'lease_lost');
      await expectGafferError(store.rateLimitTask({ ...ref, attempt: 1, workerId: other.id }), 'lease_lost');
      await fx.complete({ ...task, workerId: worker.id });
      await expectGafferError(store.rateLimitTask({ ...ref, attempt: 1, workerId: worker.id }), 'lease_lost');
      expect((await store.getTask(task.id)).status).toBe('completed');
    });

    it('refuses a wait out of range', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task, worker } = await fx.running();
      const ref = { taskId: task.id, attempt: task.attempt, workerId: worker.id };
      const err = await expectGafferError(store.rateLimitTask({ ...ref, retryAfterMs: -1 }), 'validation');
      expect(err.details).toMatchObject({ field: 'retryAfterMs' });
      expect((await store.getTask(task.id)).status).toBe('running');
    });
  });
}
