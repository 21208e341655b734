import { describe, expect, it } from 'vitest';
import type { GafferErrorCode } from '../../core/errors.js';
import {
  type ConformanceContext,
  expectGafferError,
  expectInOrder,
  fixture,
  later,
  snapshot,
} from './helpers.js';

const NOT_RETRYABLE: GafferErrorCode[] = ['not_eligible', 'illegal_transition'];

/** R2.1, R2.4–R2.7: automatic retries with backoff, dead letters, manual and bulk retries. */
export function retryTests(ctx: ConformanceContext): void {
  describe('failTask and automatic retries', () => {
    it('a failed attempt with attempts left waits out its backoff as retrying', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task, worker } = await fx.running();
      const before = Date.now();
      const after = await fx.fail(task, 'upstream 503');
      expect(after).toMatchObject({ id: task.id, status: 'retrying', attempt: 1 });
      expect(after.error).toMatchObject({ message: 'upstream 503' });
      expect(after.runAt.getTime()).toBeGreaterThan(before);
      expect(after.finishedAt).toBeNull();
      expectInOrder(
        (await store.getTaskEvents(task.id)).map((e) => e.kind),
        ['created', 'claimed', ['attempt_failed', 'retry_scheduled']],
      );
      // Not claimable before the backoff has passed, claimable after.
      expect(await fx.claim(worker.id, { now: new Date(after.runAt.getTime() - 100) })).toEqual([]);
      const again = await fx.claimOne(worker.id, {
        now: new Date(after.runAt.getTime() + 100),
        expectId: task.id,
      });
      expect(again.attempt).toBe(2);
    });

    it('backs off exponentially by the task’s policy', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task, worker } = await fx.running({
        maxAttempts: 3,
        backoff: { baseMs: 1000, factor: 2, jitter: 0, maxMs: 60_000 },
      });
      const t1 = later(0);
      const r1 = await fx.fail(task, 'one', { now: t1 });
      expect(r1.runAt.getTime() - t1.getTime()).toBe(1000);

      const second = await fx.claimOne(worker.id, { now: later(1_500), expectId: task.id });
      const t2 = later(2_000);
      const r2 = await fx.fail(second, 'two', { now: t2 });
      expect(r2.status).toBe('retrying');
      expect(r2.runAt.getTime() - t2.getTime()).toBe(2000);

      const third = await fx.claimOne(worker.id, { now: later(5_000), expectId: task.id });
      const dead = await fx.fail(third, 'three');
      expect(dead).toMatchObject({ status: 'failed', attempt: 3 });
    });

    it('exhausted attempts make a dead letter that keeps payload, last error, attempt and failed-at time', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task, worker } = await fx.running({ maxAttempts: 2, payload: { order: 17 } });
      await fx.fail(task, 'first');
      const second = await fx.claimOne(worker.id, { now: later(10_000), expectId: task.id });
      const dead = await fx.fail(second, 'second and last');
      expect(dead).toMatchObject({ status: 'failed', attempt: 2, payload: { order: 17 } });
      expect(dead.error?.message).toBe('second and last');
      expect(dead.finishedAt).toBeInstanceOf(Date);
      expect(await store.getTask(task.id)).toMatchObject({
        status: 'failed',
        error: { message: 'second and last' },
      });
      expect((await store.getTaskEvents(task.id)).map((e) => e.kind)).toContain('failed');
    });

    it('a non-retryable error fails the task at once', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task } = await fx.running({ maxAttempts: 5 });
      const dead = await fx.fail(task, 'payload cannot be parsed', { retryable: false });
      expect(dead).toMatchObject({ status: 'failed', attempt: 1 });
      expect(dead.error).toMatchObject({ message: 'payload cannot be parsed', retryable: false });
    });

    it('a stale attempt cannot fail the task', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task } = await fx.running();
      await expectGafferError(
        store.failTask({ taskId: task.id, attempt: 2, workerId: task.workerId!, error: { message: 'x' } }),
        'lease_lost',
      );
      const done = await fx.complete(task);
      await expectGafferError(fx.fail(task), 'lease_lost');
      expect((await store.getTask(done.id)).status).toBe('completed');
    });
  });

  describe('event history', () => {
    it('records every step of a task’s life, in order, with its attempt and worker', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task, worker } = await fx.running();
      await store.reportProgress({ taskId: task.id, attempt: 1, workerId: worker.id, progress: { pct: 10 } });
      await fx.fail(task, 'flaky');
      const second = await fx.claimOne(worker.id, { now: later(10_000), expectId: task.id });
      await fx.complete(second);

      const events = await store.getTaskEvents(task.id);
      expectInOrder(
        events.map((e) => e.kind),
        ['created', 'claimed', 'progress', ['attempt_failed', 'retry_scheduled'], 'claimed', 'completed'],
      );
      for (let i = 1; i < events.length; i++) {
        expect(events[i]!.id).toBeGreaterThan(events[i - 1]!.id);
      }
      expect(events.every((e) => e.taskId === task.id && e.at instanceof Date)).toBe(true);
      const claims = events.filter((e) => e.kind === 'claimed');
      expect(claims.map((e) => [e.attempt, e.workerId])).toEqual([
        [1, worker.id],
        [2, worker.id],
      ]);
      expect(events.find((e) => e.kind === 'completed')!.attempt).toBe(2);

      const page = await store.getTaskEvents(task.id, { afterId: events[1]!.id, limit: 2 });
      expect(page.map((e) => e.id)).toEqual(events.slice(2, 4).map((e) => e.id));
    });
  });

  describe('manual retry', () => {
    it('retries a failed task by hand, records who and why, then the outcome', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task, worker } = await fx.failed();
      const retried = await store.retryTask({ taskId: task.id, by: 'alice', reason: 'provider fixed' });
      expect(retried).toMatchObject({ status: 'retrying', manualRetries: 1 });
      expect(retried.retryHistory).toEqual([
        {
          attempt: task.attempt + 1,
          at: expect.any(String),
          by: 'alice',
          reason: 'provider fixed',
          outcome: null,
        },
      ]);
      expect(Number.isNaN(Date.parse(retried.retryHistory[0]!.at))).toBe(false);
      expect((await store.getTaskEvents(task.id)).map((e) => e.kind)).toContain('retried_by_hand');

      const run = await fx.claimOne(worker.id, { now: later(5_000), expectId: task.id });
      expect(run.attempt).toBe(retried.retryHistory[0]!.attempt);
      const done = await fx.complete(run);
      expect(done.retryHistory[0]!.outcome).toBe('completed');
    });

    it('records a failed outcome when the retried run fails again', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task, worker } = await fx.failed();
      await store.retryTask({ taskId: task.id, by: 'bob' });
      const run = await fx.claimOne(worker.id, { now: later(5_000), expectId: task.id });
      const dead = await fx.fail(run, 'still broken', { retryable: false });
      expect(dead.status).toBe('failed');
      expect(dead.retryHistory).toHaveLength(1);
      expect(dead.retryHistory[0]!.outcome).toBe('failed');
    });

    it('retries a cancelled task by hand', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const task = await fx.create();
      await store.cancelTask({ taskId: task.id });
      const retried = await store.retryTask({ taskId: task.id, by: 'carol' });
      expect(retried).toMatchObject({ status: 'retrying', manualRetries: 1 });
      const worker = await fx.worker();
      await fx.claimOne(worker.id, { now: later(5_000), expectId: task.id });
    });

    it('enforces the manual retry limit (default 3)', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task, worker } = await fx.failed();
      for (let i = 1; i <= 3; i++) {
        const retried = await store.retryTask({ taskId: task.id, by: 'ops' });
        expect(retried.manualRetries).toBe(i);
        const run = await fx.claimOne(worker.id, { now: later(5_000), expectId: task.id });
        expect((await fx.fail(run, `fail ${i}`, { retryable: false })).status).toBe('failed');
      }
      const before = await store.getTask(task.id);
      await expectGafferError(store.retryTask({ taskId: task.id, by: 'ops' }), 'retry_limit');
      const after = await store.getTask(task.id);
      expect(snapshot(after)).toEqual(snapshot(before));
      expect(after.retryHistory).toHaveLength(3);
    });

    it('of five concurrent retries of one failed task exactly one wins; the others get a conflict', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task } = await fx.failed();
      const results = await Promise.allSettled(
        [1, 2, 3, 4, 5].map((i) => store.retryTask({ taskId: task.id, by: `op${i}` })),
      );
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost.map((r) => (r.reason as { code?: string }).code)).toEqual([
        'conflict',
        'conflict',
        'conflict',
        'conflict',
      ]);
      const after = await store.getTask(task.id);
      expect(after).toMatchObject({ status: 'retrying', manualRetries: 1 });
      expect(after.retryHistory).toHaveLength(1);
    });

    it('refuses to retry a queued, running or completed task', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task: toComplete } = await fx.running();
      const completed = await fx.complete(toComplete);
      const { task: running } = await fx.running();
      const queued = await fx.create();
      for (const t of [queued, running, completed]) {
        const before = await store.getTask(t.id);
        await expectGafferError(store.retryTask({ taskId: t.id, by: 'ops' }), NOT_RETRYABLE);
        expect(snapshot(await store.getTask(t.id))).toEqual(snapshot(before));
      }
      await expectGafferError(store.retryTask({ taskId: 'no-such-task', by: 'ops' }), 'not_found');
    });

    it('avoidLastMachine keeps the retry off the machine whose attempt failed', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task, worker } = await fx.failed();
      const retried = await store.retryTask({ taskId: task.id, by: 'ops', avoidLastMachine: true });
      expect(retried.avoidMachineId).toBe(worker.machineId);

      const sameMachine = await fx.worker({ machineId: worker.machineId, name: 'another-slot' });
      expect(await fx.claim(sameMachine.id, { now: later(5_000) })).toEqual([]);
      const elsewhere = await fx.worker();
      const run = await fx.claimOne(elsewhere.id, { now: later(5_000), expectId: task.id });
      expect((await store.getTask(run.id)).machineId).toBe(elsewhere.machineId);
    });

    it('avoidLabels keeps the retry off workers carrying those labels', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task } = await fx.failed();
      const retried = await store.retryTask({ taskId: task.id, by: 'ops', avoidLabels: { provider: 'a' } });
      expect(retried.avoidLabels).toEqual({ provider: 'a' });

      const providerA = await fx.worker({ labels: { provider: 'a', region: 'eu' } });
      expect(await fx.claim(providerA.id, { now: later(5_000) })).toEqual([]);
      const providerB = await fx.worker({ labels: { provider: 'b', region: 'eu' } });
      await fx.claimOne(providerB.id, { now: later(5_000), expectId: task.id });
    });
  });

  describe('bulk retry', () => {
    it('retryTasks retries the failed tasks matching type and error text, nothing else', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const boom1 = (await fx.failed()).task;
      const boom2 = (await fx.failed()).task;
      const { task: otherRun } = await fx.running({ maxAttempts: 1 });
      const other = await fx.fail(otherRun, 'disk full');
      const queued = await fx.create();

      const res = await store.retryTasks({ filter: { type: fx.type, errorContains: 'boom' }, by: 'ops' });
      expect(res.changed).toBe(2);
      expect(res.matched).toBeGreaterThanOrEqual(2);
      expect([...res.ids].sort()).toEqual([boom1.id, boom2.id].sort());
      for (const id of [boom1.id, boom2.id]) {
        expect(await store.getTask(id)).toMatchObject({ status: 'retrying', manualRetries: 1 });
      }
      expect((await store.getTask(other.id)).status).toBe('failed');
      expect((await store.getTask(queued.id)).status).toBe('queued');

      const all = await store.retryTasks({ filter: { type: fx.type }, by: 'ops' });
      expect(all.changed).toBe(1);
      expect(all.ids).toEqual([other.id]);
      expect((await store.getTask(queued.id)).status).toBe('queued');
    });
  });
}
