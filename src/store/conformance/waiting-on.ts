import { describe, expect, it } from 'vitest';
import { type ConformanceContext, fixture, uid } from './helpers.js';

/** Issue 16: why a task is not running, one test per reason, and the list filtered by reason. */
export function waitingOnTests(ctx: ConformanceContext): void {
  describe('waiting on', () => {
    it('a task scheduled for later waits on its run-at, and the list filters by it', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      await fx.worker();
      const runAt = new Date(Date.now() + 3_600_000);
      const later = await fx.create({ runAt });
      const now = await fx.create();
      const reasons = await store.waitingOn(later.id);
      expect(reasons?.[0]).toMatchObject({ reason: 'scheduled', until: runAt.toISOString() });
      expect(reasons?.[0]?.message).toContain(runAt.toISOString());
      const listed = await store.listTasks({ queue: fx.queue, waitingOn: 'scheduled' });
      expect(listed.items.map((t) => t.id)).toEqual([later.id]);
      expect((await store.countTasks({ queue: fx.queue, waitingOn: 'scheduled' })).queued).toBe(1);
      expect((await store.waitingOn(now.id))?.map((r) => r.reason)).toEqual(['queued']);
    });

    it('a task backing off after a failed attempt waits on the backoff', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task } = await fx.running({
        backoff: { baseMs: 3_600_000, maxMs: 3_600_000, jitter: 0 },
        maxAttempts: 3,
      });
      const retrying = await fx.fail(task, 'flaky');
      expect(retrying.status).toBe('retrying');
      const reasons = await store.waitingOn(task.id);
      expect(reasons?.[0]).toMatchObject({ reason: 'backoff', until: retrying.runAt.toISOString() });
      const listed = await store.listTasks({ queue: fx.queue, waitingOn: 'backoff' });
      expect(listed.items.map((t) => t.id)).toEqual([task.id]);
    });

    it('a task no live worker takes says so and names the live workers and what they take', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const other = uid('t');
      const w = await fx.worker({ types: [other] });
      const task = await fx.create();
      const reasons = await store.waitingOn(task.id);
      expect(reasons?.map((r) => r.reason)).toEqual(['no_live_worker']);
      const listedWorkers = reasons?.[0]?.workers as { id: string; types: string[] }[];
      expect(listedWorkers.find((x) => x.id === w.id)?.types).toEqual([other]);
      const listed = await store.listTasks({ queue: fx.queue, waitingOn: 'no_live_worker' });
      expect(listed.items.map((t) => t.id)).toEqual([task.id]);

      // A worker that takes it arrives: the reason goes away, in the list too.
      await fx.worker();
      expect((await store.waitingOn(task.id))?.map((r) => r.reason)).toEqual(['queued']);
      expect((await store.listTasks({ queue: fx.queue, waitingOn: 'no_live_worker' })).items).toEqual([]);
    });

    it('a retry that avoids the only machine that takes it waits on that', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task } = await fx.failed();
      const retried = await store.retryTask({ taskId: task.id, by: 'ops', avoidLastMachine: true });
      expect(retried.avoidMachineId).toEqual(expect.any(String));
      const reasons = await store.waitingOn(task.id);
      expect(reasons?.map((r) => r.reason)).toEqual(['avoided']);
      expect(reasons?.[0]?.message).toContain(retried.avoidMachineId!);
      await fx.worker();
      expect((await store.waitingOn(task.id))?.map((r) => r.reason)).toEqual(['queued']);
    });

    it('a runnable task says how many are ahead of it and how busy its workers are', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const w = await fx.worker({ concurrency: 2 });
      const [a, b] = await fx.createMany(2);
      await fx.claimOne(w.id, { expectId: a!.id });
      const high = await fx.create({ priority: 5 });
      const low = await fx.create();
      const reasons = await store.waitingOn(low.id);
      expect(reasons?.[0]).toMatchObject({ reason: 'queued', ahead: 2, workers: 1, slots: 2, busySlots: 1 });
      expect((await store.waitingOn(high.id))?.[0]).toMatchObject({ reason: 'queued', ahead: 0 });
      expect((await store.waitingOn(b!.id))?.[0]).toMatchObject({ reason: 'queued', ahead: 1 });
      // Running and finished tasks wait on nothing.
      expect(await store.waitingOn(a!.id)).toBeNull();
    });

    it('a task waiting for dependencies names the unfinished ones; one waiting for a signal says so', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const first = await fx.create();
      const dependent = await fx.create({ dependsOn: [first.id] });
      const deps = await store.waitingOn(dependent.id);
      expect(deps?.[0]).toMatchObject({
        reason: 'dependencies',
        pending: 1,
        tasks: [{ id: first.id, status: 'queued' }],
      });
      expect(deps?.[0]?.message).toContain(first.id);
      const signalled = await fx.create({ waitFor: { signal: true, timeoutMs: 3_600_000 } });
      const sig = await store.waitingOn(signalled.id);
      expect(sig?.[0]).toMatchObject({ reason: 'signal', until: expect.any(String) });
      const listed = await store.listTasks({ queue: fx.queue, waitingOn: 'dependencies' });
      expect(listed.items.map((t) => t.id)).toEqual([dependent.id]);
      expect(
        (await store.listTasks({ queue: fx.queue, waitingOn: 'signal' })).items.map((t) => t.id),
      ).toEqual([signalled.id]);
    });

    it('a paused queue and a type at its concurrency limit hold a runnable task, and say which', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const w = await fx.worker();
      await store.setLimits({ scope: 'type', name: fx.type, concurrency: 1 });
      const [a, b] = await fx.createMany(2);
      await fx.claimOne(w.id, { expectId: a!.id });
      const limited = await store.waitingOn(b!.id);
      expect(limited?.map((r) => r.reason)).toEqual(['concurrency_limit']);
      expect(limited?.[0]).toMatchObject({ scope: 'type', name: fx.type, running: 1, limit: 1 });
      await store.pauseFlow({ scope: 'queue', name: fx.queue, by: 'ops' });
      const paused = await store.waitingOn(b!.id);
      expect(paused?.map((r) => r.reason)).toEqual(['paused', 'concurrency_limit']);
      expect(paused?.[0]?.message).toContain('by ops');
      await store.resumeFlow({ scope: 'queue', name: fx.queue });
      await store.clearLimits({ scope: 'type', name: fx.type });
      expect((await store.waitingOn(b!.id))?.map((r) => r.reason)).toEqual(['queued']);
    });

    it('the list filters by each flow-control reason, as GET /tasks/:id gives it', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const w = await fx.worker();
      const ids = async (waitingOn: 'paused' | 'concurrency_limit' | 'key_limit' | 'rate_limit') =>
        (await store.listTasks({ queue: fx.queue, waitingOn })).items.map((t) => t.id).sort();
      const q = { scope: 'queue', name: fx.queue } as const;
      try {
        await store.setLimits({ ...q, keyConcurrency: 1 });
        const [a1, a2, b1] = [
          ...(await fx.createMany(2, { concurrencyKey: 'a' })),
          ...(await fx.createMany(1, { concurrencyKey: 'b' })),
        ];
        const claimed = await fx.claim(w.id, { limit: 5 });
        expect(claimed.map((t) => t.id).sort()).toEqual([a1!.id, b1!.id].sort());
        expect(await ids('key_limit')).toEqual([a2!.id]);
        expect((await store.waitingOn(a2!.id))?.map((r) => r.reason)).toEqual(['key_limit']);
        expect(await ids('concurrency_limit')).toEqual([]);
        expect(await ids('paused')).toEqual([]);

        await store.setLimits({ ...q, concurrency: 2 });
        const [c] = await fx.createMany(1);
        expect(await ids('concurrency_limit')).toEqual([a2!.id, c!.id].sort());
        await store.pauseFlow({ ...q, by: 'ops' });
        expect(await ids('paused')).toEqual([a2!.id, c!.id].sort());
        await store.resumeFlow(q);
        expect(await ids('paused')).toEqual([]);

        await store.setLimits({ ...q, rate: { limit: 2, intervalMs: 60_000 } });
        for (const t of claimed) await fx.complete(t);
        expect(await fx.claim(w.id, { limit: 5 })).toHaveLength(2);
        const [d] = await fx.createMany(1);
        expect(await ids('rate_limit')).toEqual([d!.id]);
        expect((await store.waitingOn(d!.id))?.map((r) => r.reason)).toContain('rate_limit');
      } finally {
        await store.clearLimits(q);
        await store.resumeFlow(q);
      }
    });
  });
}
