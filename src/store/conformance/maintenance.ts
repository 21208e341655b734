import { describe, expect, it } from 'vitest';
import type { Store } from '../store.js';
import { type ConformanceContext, expectGafferError, fixture, later, uid } from './helpers.js';
import { probing } from './wake-probe.js';

const HOUR = 3_600_000;

/** R3.6, R7, R8: retention, migrations, queue statistics, wake-ups and leadership. */
export function maintenanceTests(ctx: ConformanceContext): void {
  describe('maintenance', () => {
    it('throughput counts tasks completed and failed per minute over the window', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const sum = (pts: Array<{ completed: number; failed: number }>) =>
        pts.reduce((a, p) => ({ completed: a.completed + p.completed, failed: a.failed + p.failed }), {
          completed: 0,
          failed: 0,
        });
      const before = sum(await store.throughput({ minutes: 60 }));
      await fx.complete((await fx.running()).task);
      await fx.failed();
      const points = await store.throughput({ minutes: 60 });
      expect(points).toHaveLength(60);
      expect(new Date(points[59]!.at).getTime()).toBe(Math.floor(Date.now() / 60_000) * 60_000);
      const after = sum(points);
      expect(after.completed - before.completed).toBeGreaterThanOrEqual(1);
      expect(after.failed - before.failed).toBeGreaterThanOrEqual(1);
    });

    it('prune removes finished tasks, closed sessions and stale workers past the age, never unfinished work', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task: toComplete } = await fx.running();
      const completed = await fx.complete(toComplete);
      const { task: failed } = await fx.failed();
      const { task: running } = await fx.running({}, { leaseMs: 10 * HOUR });
      const queued = await fx.create();

      const closed = await store.createSession({ id: uid('s'), queue: fx.queue, tasks: [{ type: fx.type }] });
      const sw = await fx.worker();
      await fx.complete(
        await store.claimSessionTask({ workerId: sw.id, sessionId: closed.session.id, index: 0 }),
      );
      expect((await store.getSession(closed.session.id)).status).toBe('completed');
      const open = await store.createSession({ id: uid('s'), queue: fx.queue, tasks: [{ type: fx.type }] });

      const staleWorker = await fx.worker();
      expect(await store.markStaleWorkers({ now: later(61_000) })).toContain(staleWorker.id);

      // Younger than the age: nothing of ours goes.
      await store.prune({ olderThanMs: HOUR });
      expect(await store.findTask(completed.id)).not.toBeNull();
      expect(await store.findTask(failed.id)).not.toBeNull();
      expect((await store.getSession(closed.session.id)).id).toBe(closed.session.id);
      expect((await store.getWorker(staleWorker.id)).stale).toBe(true);

      const res = await store.prune({ olderThanMs: HOUR, now: later(2 * HOUR) });
      expect(res.tasks).toBeGreaterThanOrEqual(3);
      expect(res.sessions).toBeGreaterThanOrEqual(1);
      expect(res.workers).toBeGreaterThanOrEqual(1);
      expect(res.events).toBeGreaterThanOrEqual(6);

      for (const id of [completed.id, failed.id, closed.tasks[0]!.id]) {
        expect(await store.findTask(id)).toBeNull();
        expect(await store.getTaskEvents(id).catch(() => [])).toEqual([]);
      }
      await expectGafferError(store.getSession(closed.session.id), 'not_found');
      await expectGafferError(store.getWorker(staleWorker.id), 'not_found');

      expect((await store.getTask(queued.id)).status).toBe('queued');
      expect((await store.getTask(running.id)).status).toBe('running');
      expect((await store.getTaskEvents(queued.id)).map((e) => e.kind)).toEqual(['created']);
      expect((await store.getSession(open.session.id)).status).toBe('active');
      expect((await store.getSessionTasks(open.session.id)).map((t) => t.id)).toEqual([open.tasks[0]!.id]);
    });

    it('migrate again applies nothing and keeps the data', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const task = await fx.create({ payload: { survives: true } });
      expect(await store.migrate()).toEqual([]);
      expect(await store.getTask(task.id)).toMatchObject({ status: 'queued', payload: { survives: true } });
    });

    it('queueStats reports depth per queue and status with the oldest age', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      await fx.running();
      await fx.createMany(2);
      const stats = (await store.queueStats()).filter((s) => s.queue === fx.queue);
      const queued = stats.find((s) => s.status === 'queued');
      const running = stats.find((s) => s.status === 'running');
      expect(queued).toMatchObject({ queue: fx.queue, status: 'queued', count: 2 });
      expect(running).toMatchObject({ queue: fx.queue, status: 'running', count: 1 });
      expect(queued!.oldestAgeMs).toBeGreaterThanOrEqual(0);
      expect(queued!.oldestAgeMs).toBeLessThan(HOUR);
    });

    it('onWake signals the queue that received runnable work', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      await probing(store, fx.type, async (probe) => {
        await fx.create();
        expect(await probe.waitFor(fx.queue, 10_000), `no wake-up for ${fx.queue}`).toBe(true);
      });
    });

    it('a create wakes its queue in this process once, by the time the create returns', async () => {
      // Claims waiting in this process start at once, not when PostgreSQL relays the NOTIFY back;
      // the relay of our own commit is then not a second wake-up (each would cost a claim query).
      const store = ctx.store();
      const fx = fixture(store);
      await probing(store, fx.type, async (probe) => {
        await fx.create();
        expect(probe.count(fx.queue)).toBe(1);
        await new Promise((r) => setTimeout(r, 500));
        expect(probe.count(fx.queue)).toBe(1);
      });
    });

    it('a wake-up names the queue, the type and how many tasks; tasks that run later wake no one', async () => {
      // Listeners wake only as many claims of that type and queue as there is work.
      const store = ctx.store();
      const fx = fixture(store);
      const [one, two, later] = [uid('t'), uid('t'), uid('t')];
      await probing(store, fx.type, async (probe) => {
        await store.createTasks({
          tasks: [
            ...[1, 2, 3].map(() => ({ type: one, queue: fx.queue })),
            ...[1, 2].map(() => ({ type: two, queue: fx.queue })),
            { type: later, queue: fx.queue, delayMs: 60_000 },
          ],
        });
        await new Promise((r) => setTimeout(r, 300));
        const mine = probe.wakes.filter((w) => w?.queue === fx.queue);
        expect(mine).toHaveLength(2);
        expect(mine).toEqual(
          expect.arrayContaining([
            { queue: fx.queue, type: one, count: 3 },
            { queue: fx.queue, type: two, count: 2 },
          ]),
        );
      });
    });

    it('onWake signals the queue of a task retried by hand', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task } = await fx.failed();
      await probing(store, fx.type, async (probe) => {
        await store.retryTask({ taskId: task.id, by: 'ops' });
        expect(await probe.waitFor(fx.queue, 10_000), `no wake-up for ${fx.queue}`).toBe(true);
      });
    });

    it('tryLeadership runs the function and returns its result', async () => {
      const store = ctx.store();
      let ran = 0;
      const out = await store.tryLeadership(uid('lock'), async () => {
        ran++;
        return 'led';
      });
      expect(out).toBe('led');
      expect(ran).toBe(1);
    });
  });
}
