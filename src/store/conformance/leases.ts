import { describe, expect, it } from 'vitest';
import type { AttemptRef } from '../types.js';
import {
  type ConformanceContext,
  expectGafferError,
  expectInOrder,
  fixture,
  type Held,
  later,
} from './helpers.js';

const ref = (task: Held, workerId = task.workerId!): AttemptRef => ({
  taskId: task.id,
  attempt: task.attempt,
  workerId,
});

/** R2.2, R2.3: leases, fencing, lease rescue, timeouts, heartbeats, progress, completion and hand-back. */
export function leaseTests(ctx: ConformanceContext): void {
  describe('completeTasks', () => {
    it('completes with the result, sets finishedAt and records a completed event', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task, worker } = await fx.running();
      const res = await store.completeTasks([
        { taskId: task.id, attempt: 1, workerId: worker.id, result: { answer: 42, list: ['x'] } },
      ]);
      expect(res).toEqual({ completed: [task.id], refused: [] });
      const done = await store.getTask(task.id);
      expect(done).toMatchObject({ status: 'completed', attempt: 1, result: { answer: 42, list: ['x'] } });
      expect(done.finishedAt).toBeInstanceOf(Date);
      expectInOrder(
        (await store.getTaskEvents(task.id)).map((e) => e.kind),
        ['created', 'claimed', 'completed'],
      );
    });

    it('refuses, without throwing, a wrong attempt, a wrong worker and a second completion', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task: good, worker } = await fx.running();
      const { task: other } = await fx.running();
      const res = await store.completeTasks([
        { taskId: good.id, attempt: 1, workerId: worker.id, result: 1 },
        { taskId: other.id, attempt: 2, workerId: other.workerId!, result: 2 },
        { taskId: other.id, attempt: 1, workerId: worker.id, result: 3 },
      ]);
      expect(res.completed).toEqual([good.id]);
      expect(res.refused).toHaveLength(2);
      expect(res.refused.every((r) => r.taskId === other.id)).toBe(true);
      expect((await store.getTask(other.id)).status).toBe('running');

      const again = await store.completeTasks([
        { taskId: good.id, attempt: 1, workerId: worker.id, result: 'again' },
      ]);
      expect(again.completed).toEqual([]);
      expect(again.refused).toEqual([expect.objectContaining({ taskId: good.id, attempt: 1 })]);
      expect((await store.getTask(good.id)).result).toBe(1);
    });
  });

  describe('leases', () => {
    it('a lapsed lease sends the task to retrying as lost, fences off the old holder, and another worker finishes it', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task, worker: a } = await fx.running();

      await store.rescueLeases({ now: later(20_000) });
      expect((await store.getTask(task.id)).status).toBe('running');

      const rescued = await store.rescueLeases({ now: later(31_000) });
      expect(rescued.lost).toBeGreaterThanOrEqual(1);
      const lost = await store.getTask(task.id);
      expect(lost).toMatchObject({ status: 'retrying', attempt: 1 });
      expect(lost.error?.kind).toBe('lost');
      expectInOrder(
        (await store.getTaskEvents(task.id)).map((e) => e.kind),
        ['created', 'claimed', 'lease_lost'],
      );

      const old = ref(task, a.id);
      const fenced = async () => {
        const late = await store.completeTasks([{ ...old, result: 'late' }]);
        expect(late.completed).toEqual([]);
        expect(late.refused).toEqual([expect.objectContaining({ taskId: task.id, attempt: 1 })]);
        await expectGafferError(store.failTask({ ...old, error: { message: 'late' } }), 'lease_lost');
        await expectGafferError(store.reportProgress({ ...old, progress: { pct: 50 } }), 'lease_lost');
        await expectGafferError(store.extendLease(old), 'lease_lost');
      };
      await fenced();

      const b = await fx.worker();
      const again = await fx.claimOne(b.id, { now: later(45_000), expectId: task.id });
      expect(again).toMatchObject({ attempt: 2, workerId: b.id });
      expect((await store.getTask(task.id)).status).toBe('running');
      await fenced();

      const done = await fx.complete(again, { by: 'b' });
      expect(done).toMatchObject({ status: 'completed', attempt: 2, result: { by: 'b' } });
    });

    it('a lapsed lease with no attempts left ends failed as lost', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task } = await fx.running({ maxAttempts: 1, payload: { keep: 'me' } });
      await store.rescueLeases({ now: later(31_000) });
      const dead = await store.getTask(task.id);
      expect(dead).toMatchObject({ status: 'failed', attempt: 1, payload: { keep: 'me' } });
      expect(dead.error?.kind).toBe('lost');
      expect(dead.finishedAt).toBeInstanceOf(Date);
      expect((await store.getTaskEvents(task.id)).map((e) => e.kind)).toContain('lease_lost');
    });

    it('a task whose worker dies on every claim reaches the dead letters after exactly max attempts', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task } = await fx.running({ maxAttempts: 2 });
      await store.rescueLeases({ now: later(31_000) });
      expect((await store.getTask(task.id)).status).toBe('retrying');

      const second = await fx.worker();
      const again = await fx.claimOne(second.id, { now: later(40_000), expectId: task.id });
      expect(again.attempt).toBe(2);
      await store.rescueLeases({ now: later(120_000) });

      const dead = await store.getTask(task.id);
      expect(dead).toMatchObject({ status: 'failed', attempt: 2 });
      expect(await fx.claim(second.id, { limit: 5, now: later(50_000) })).toEqual([]);
      const claims = (await store.getTaskEvents(task.id)).filter((e) => e.kind === 'claimed');
      expect(claims.map((e) => e.attempt)).toEqual([1, 2]);
    });

    it('a running attempt past its timeout fails as timeout and is retried', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task } = await fx.running({ timeoutMs: 5_000 });
      await store.rescueLeases({ now: later(2_000) });
      expect((await store.getTask(task.id)).status).toBe('running');

      const res = await store.rescueLeases({ now: later(6_000) });
      expect(res.timedOut).toBeGreaterThanOrEqual(1);
      const timedOut = await store.getTask(task.id);
      expect(timedOut.status).toBe('retrying');
      expect(timedOut.error?.kind).toBe('timeout');
    });

    it('a timed-out last attempt ends failed as timeout', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task } = await fx.running({ timeoutMs: 5_000, maxAttempts: 1 });
      await store.rescueLeases({ now: later(6_000) });
      const dead = await store.getTask(task.id);
      expect(dead.status).toBe('failed');
      expect(dead.error?.kind).toBe('timeout');
    });

    it('a heartbeat extends the leases of the worker’s running tasks', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      await fx.createMany(2);
      const worker = await fx.worker();
      const claimed = await fx.claim(worker.id, { limit: 2 });
      expect(claimed).toHaveLength(2);

      const hbAt = later(20_000);
      const hb = await store.heartbeat({ workerId: worker.id, now: hbAt });
      expect(hb).toMatchObject({ live: true, extended: 2, cancelled: [] });

      await store.rescueLeases({ now: later(40_000) });
      for (const t of claimed) {
        const cur = await store.getTask(t.id);
        expect(cur.status).toBe('running');
        expect(cur.leaseExpiresAt!.getTime()).toBeGreaterThan(t.leaseExpiresAt!.getTime());
      }
      // The extension is a lease, not immunity: without further heartbeats it lapses.
      await store.rescueLeases({ now: later(20_000 + 31_000) });
      for (const t of claimed) expect((await store.getTask(t.id)).status).toBe('retrying');
    });

    it('a heartbeat naming its held attempts renews only those: an attempt the worker let go lapses', async () => {
      // A worker that gave up reporting a task (its database or network was down) no longer holds
      // it; its later heartbeats must not keep that lease alive for ever.
      const store = ctx.store();
      const fx = fixture(store);
      await fx.createMany(2);
      const worker = await fx.worker();
      const [kept, dropped] = await fx.claim(worker.id, { limit: 2 });
      const hb = await store.heartbeat({ workerId: worker.id, held: [ref(kept!)], now: later(20_000) });
      expect(hb).toMatchObject({ live: true, extended: 1, lost: [] });
      await store.rescueLeases({ now: later(40_000) });
      expect((await store.getTask(kept!.id)).status).toBe('running');
      expect((await store.getTask(dropped!.id)).status).toBe('retrying');
    });

    it('heartbeats of many workers in one call answer each as its own heartbeat would', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      await fx.createMany(4);
      const a = await fx.worker();
      const b = await fx.worker();
      const gone = await fx.worker();
      const [a1, a2] = await fx.claim(a.id, { limit: 2 });
      const [b1] = await fx.claim(b.id, { limit: 1 });
      const [g1] = await fx.claim(gone.id, { limit: 1 });
      await store.cancelTask({ taskId: b1!.id });
      await store.deleteWorker(gone.id);
      const now = later(20_000);
      const [ha, hb, hg] = await store.heartbeats([
        { workerId: a.id, held: [ref(a1!)], now },
        { workerId: b.id, now },
        { workerId: gone.id, held: [ref(g1!)], now },
      ]);
      expect(ha).toMatchObject({ live: true, extended: 1, cancelled: [], lost: [] });
      expect(hb).toMatchObject({ live: true, extended: 1, lost: [] });
      expect(hb!.cancelled).toEqual([{ taskId: b1!.id, attempt: b1!.attempt }]);
      expect(hg).toMatchObject({ live: false, extended: 0, lost: [ref(g1!)] });
      await store.rescueLeases({ now: later(40_000) });
      expect((await store.getTask(a1!.id)).status).toBe('running');
      expect((await store.getTask(a2!.id)).status).toBe('retrying');
      // Still b's: its heartbeat renewed the lease and told it of the cancel request.
      expect((await store.getTask(b1!.id)).status).toBe('running');
    });

    it('extendLease lengthens one lease and only for its holder', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task, worker } = await fx.running();
      const before = Date.now();
      const until = await store.extendLease({ ...ref(task), leaseMs: 120_000 });
      expect(until).toBeInstanceOf(Date);
      expect(until.getTime()).toBeGreaterThanOrEqual(before + 120_000 - 5000);
      expect((await store.getTask(task.id)).leaseExpiresAt!.getTime()).toBe(until.getTime());

      await store.rescueLeases({ now: later(45_000) });
      expect((await store.getTask(task.id)).status).toBe('running');

      const intruder = await fx.worker();
      await expectGafferError(store.extendLease({ ...ref(task), workerId: intruder.id }), 'lease_lost');
      await expectGafferError(store.extendLease({ ...ref(task), attempt: 2 }), 'lease_lost');
      expect((await store.getTask(task.id)).workerId).toBe(worker.id);
    });

    it('the holder reports progress; a non-holder cannot', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task } = await fx.running();
      await store.reportProgress({ ...ref(task), progress: { done: 3, total: 10 } });
      expect((await store.getTask(task.id)).progress).toEqual({ done: 3, total: 10 });
      const events = await store.getTaskEvents(task.id);
      expect(events.map((e) => e.kind)).toContain('progress');

      const other = await fx.worker();
      await expectGafferError(
        store.reportProgress({ ...ref(task), workerId: other.id, progress: { done: 9 } }),
        'lease_lost',
      );
      expect((await store.getTask(task.id)).progress).toEqual({ done: 3, total: 10 });
    });
  });

  describe('handBackTasks', () => {
    it('hands a running task back to the queue without spending an attempt', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task, worker } = await fx.running({ maxAttempts: 2 });
      expect(await store.handBackTasks([ref(task)])).toEqual([task.id]);
      const back = await store.getTask(task.id);
      expect(back.status).toBe('queued');
      expect(back.error).toBeNull();

      // Both attempts of the budget are still there after the hand-back.
      const first = await fx.claimOne(worker.id, { expectId: task.id });
      const retrying = await fx.fail(first, 'first real failure');
      expect(retrying.status).toBe('retrying');
      const second = await fx.claimOne(worker.id, { now: later(15_000), expectId: task.id });
      expect(second.attempt).toBeGreaterThan(first.attempt);
      const dead = await fx.fail(second, 'second real failure');
      expect(dead.status).toBe('failed');
    });

    it('a hand-back of a single-attempt task does not fail it early', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task, worker } = await fx.running({ maxAttempts: 1 });
      expect(await store.handBackTasks([ref(task)])).toEqual([task.id]);
      expect((await store.getTask(task.id)).status).toBe('queued');
      const again = await fx.claimOne(worker.id, { expectId: task.id });
      expect((await store.getTask(again.id)).status).toBe('running');
      expect((await fx.fail(again)).status).toBe('failed');
    });

    it('ignores a hand-back by a stale attempt', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task } = await fx.running();
      expect(await store.handBackTasks([{ ...ref(task), attempt: 7 }])).toEqual([]);
      expect((await store.getTask(task.id)).status).toBe('running');
    });
  });

  describe('claims', () => {
    it('a task claimed again while its first claim is still open is listed and counted once', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      await fx.createMany(2);
      const worker = await fx.worker();
      const [kept, dropped] = await fx.claim(worker.id, { limit: 2 });
      // The worker keeps one and lets the other lapse: the first claim stays open for the kept one.
      await store.heartbeat({ workerId: worker.id, held: [ref(kept!)], now: later(20_000) });
      await store.rescueLeases({ now: later(40_000) });
      const again = await fx.claimOne(worker.id, { now: later(50_000), expectId: dropped!.id });
      expect(again.attempt).toBe(2);
      const unfinished = ['queued', 'running', 'retrying'] as const;
      const page = await store.listTasks({ queue: fx.queue, status: [...unfinished] });
      expect(page.items.map((t) => t.id).sort()).toEqual([kept!.id, dropped!.id].sort());
      expect(await store.countTasks({ queue: fx.queue, status: [...unfinished] })).toMatchObject({
        running: 2,
        total: 2,
      });
      expect((await store.listTasks({ queue: fx.queue, status: 'running' })).items).toHaveLength(2);
    });

    it('every way a running attempt ends closes its claim: with nothing running, no claim is left', async () => {
      // Running tasks are found through the claims that took them (migration 0004); a claim that
      // outlived its tasks would be a leak every later lease sweep pays for.
      const store = await ctx.makeStore();
      try {
        const open = async () => {
          const db = (store as { db?: { query(sql: string): Promise<{ rows: Array<{ n: number }> }> } }).db;
          if (!db) throw new Error('this driver exposes no db to read its claims from');
          return (await db.query('select count(*)::int as n from task_claims')).rows[0]!.n;
        };
        const fx = fixture(store);
        await fx.createMany(7, { maxAttempts: 2 });
        const worker = await fx.worker();
        const [done, retried, dead, handedBack, cancelled, deleted, lapsed] = await fx.claim(worker.id, {
          limit: 7,
        });
        expect(await open()).toBe(1);
        await fx.complete(done!);
        await fx.fail(retried!, 'transient');
        await fx.fail(dead!, 'fatal', { retryable: false });
        await store.handBackTasks([ref(handedBack!)]);
        await store.cancelTask({ taskId: cancelled!.id });
        await store.failTask({ ...ref(cancelled!), error: { message: 'stopped', kind: 'cancelled' } });
        await store.deleteTask(deleted!.id);
        expect(await open()).toBe(1);
        await store.rescueLeases({ now: later(31_000) });
        expect((await store.getTask(lapsed!.id)).status).toBe('retrying');
        expect(await open()).toBe(0);

        const again = await fx.claim(worker.id, { limit: 7, now: later(40_000) });
        expect(again.map((t) => t.id).sort()).toEqual([retried!.id, handedBack!.id, lapsed!.id].sort());
        await store.deleteWorker(worker.id);
        expect(await open()).toBe(0);
        for (const t of again) expect((await store.getTask(t.id)).status).not.toBe('running');
      } finally {
        await ctx.dropStore(store);
      }
    });
  });
}
