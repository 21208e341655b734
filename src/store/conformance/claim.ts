import { describe, expect, it } from 'vitest';
import { type ConformanceContext, expectGafferError, fixture, later, statusCounts, uid } from './helpers.js';

/** R5: claiming the next tasks: who may claim, what, in which order, and never twice. */
export function claimTests(ctx: ConformanceContext): void {
  describe('claimTasks', () => {
    it('leases the task to the worker: running, attempt 1, worker and lease set, claimed event', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const created = await fx.create();
      const worker = await fx.worker();
      const before = Date.now();
      const [task] = await fx.claim(worker.id);
      expect(task).toBeDefined();
      expect(task).toMatchObject({ id: created.id, attempt: 1, workerId: worker.id });
      expect(await store.getTask(created.id)).toMatchObject({
        status: 'running',
        attempt: 1,
        workerId: worker.id,
        machineId: worker.machineId,
      });
      // Default lease: 30 s from the claim.
      expect(task!.leaseExpiresAt!.getTime()).toBeGreaterThanOrEqual(before + 30_000 - 5000);
      expect(task!.leaseExpiresAt!.getTime()).toBeLessThanOrEqual(Date.now() + 30_000 + 5000);
      expect(task!.startedAt).toBeInstanceOf(Date);

      const events = await store.getTaskEvents(created.id);
      expect(events.map((e) => e.kind)).toEqual(['created', 'claimed']);
      expect(events[1]).toMatchObject({ attempt: 1, workerId: worker.id });
      expect(events[1]!.id).toBeGreaterThan(events[0]!.id);
    });

    it('honours a leaseMs given with the claim', async () => {
      const fx = fixture(ctx.store());
      await fx.create();
      const worker = await fx.worker();
      const before = Date.now();
      const task = await fx.claimOne(worker.id, { leaseMs: 300_000 });
      expect(task.leaseExpiresAt!.getTime()).toBeGreaterThanOrEqual(before + 300_000 - 5000);
    });

    it('returns at most limit tasks and then nothing', async () => {
      const fx = fixture(ctx.store());
      await fx.createMany(5);
      const worker = await fx.worker();
      const first = await fx.claim(worker.id, { limit: 3 });
      const second = await fx.claim(worker.id, { limit: 3 });
      const third = await fx.claim(worker.id, { limit: 3 });
      expect(first).toHaveLength(3);
      expect(second).toHaveLength(2);
      expect(third).toEqual([]);
      expect(new Set([...first, ...second].map((t) => t.id)).size).toBe(5);
    });

    it('claims by priority (higher first), then run-at, then creation', async () => {
      const fx = fixture(ctx.store());
      const past = new Date(Date.now() - 60_000);
      const a = await fx.create({ runAt: past });
      const b = await fx.create({ priority: 5 });
      const c = await fx.create({ runAt: new Date(past.getTime() - 60_000) });
      const d = await fx.create({ runAt: past });
      const e = await fx.create({ priority: -1, runAt: new Date(past.getTime() - 120_000) });
      const worker = await fx.worker();
      const order: string[] = [];
      for (let i = 0; i < 5; i++) order.push((await fx.claimOne(worker.id)).id);
      expect(order).toEqual([b.id, c.id, a.id, d.id, e.id]);
    });

    it('hands a batch back in claim order', async () => {
      const fx = fixture(ctx.store());
      const past = new Date(Date.now() - 60_000);
      const a = await fx.create({ runAt: past });
      const b = await fx.create({ priority: 5 });
      const c = await fx.create({ runAt: new Date(past.getTime() - 60_000) });
      const d = await fx.create({ runAt: past });
      const e = await fx.create({ priority: -1, runAt: new Date(past.getTime() - 120_000) });
      const worker = await fx.worker();
      const batch = await fx.claim(worker.id, { limit: 10 });
      expect(batch.map((t) => t.id)).toEqual([b.id, c.id, a.id, d.id, e.id]);
    });

    it('does not claim a task before its run-at or delay has passed', async () => {
      const fx = fixture(ctx.store());
      const delayed = await fx.create({ delayMs: 30_000 });
      const scheduled = await fx.create({ runAt: later(20_000) });
      const worker = await fx.worker();
      expect(await fx.claim(worker.id, { limit: 10 })).toEqual([]);
      expect(await fx.claim(worker.id, { limit: 10, now: later(10_000) })).toEqual([]);
      const atTwenty = await fx.claim(worker.id, { limit: 10, now: later(21_000) });
      expect(atTwenty.map((t) => t.id)).toEqual([scheduled.id]);
      const atThirty = await fx.claim(worker.id, { limit: 10, now: later(31_000) });
      expect(atThirty.map((t) => t.id)).toEqual([delayed.id]);
    });

    it('claims only from the requested queues and types', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const otherType = uid('t');
      const otherQueue = uid('q');
      const mine = await fx.create();
      const wrongType = await fx.create({ type: otherType });
      await store.createTasks({ tasks: [{ type: fx.type, queue: otherQueue }] });
      const worker = await fx.worker({ types: [fx.type, otherType], queues: [fx.queue, otherQueue] });

      const claimed = await fx.claim(worker.id, { limit: 10, types: [fx.type] });
      expect(claimed.map((t) => t.id)).toEqual([mine.id]);
      const rest = await fx.claim(worker.id, { limit: 10, types: [otherType] });
      expect(rest.map((t) => t.id)).toEqual([wrongType.id]);
      expect((await store.listTasks({ queue: otherQueue })).items.map((t) => t.status)).toEqual(['queued']);
    });

    it('never hands a leased task to a second worker, nor a finished one to anyone', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task } = await fx.running();
      const other = await fx.worker();
      expect(await fx.claim(other.id, { limit: 10 })).toEqual([]);
      await fx.complete(task);
      expect(await fx.claim(other.id, { limit: 10, now: later(50_000) })).toEqual([]);
      const after = await store.getTask(task.id);
      expect(after.status).toBe('completed');
      expect(after.attempt).toBe(1);
    });

    it('refuses a claim from an unknown worker with worker_not_live', async () => {
      const fx = fixture(ctx.store());
      const task = await fx.create();
      await expectGafferError(fx.claim(uid('ghost'), { limit: 1 }), 'worker_not_live');
      expect((await ctx.store().getTask(task.id)).status).toBe('queued');
    });

    it('four concurrent workers drain 2,000 tasks and complete each exactly once', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const n = 2000;
      const created = await fx.createMany(n);
      const workers = await Promise.all([0, 1, 2, 3].map(() => fx.worker()));
      const claims = new Map<string, number>();
      const completions = new Map<string, number>();
      const refused: unknown[] = [];

      const drain = async (workerId: string) => {
        for (;;) {
          const batch = await fx.claim(workerId, { limit: 25 });
          if (batch.length === 0) return;
          for (const t of batch) {
            expect(t.workerId).toBe(workerId);
            claims.set(t.id, (claims.get(t.id) ?? 0) + 1);
          }
          const res = await store.completeTasks(
            batch.map((t) => ({ taskId: t.id, attempt: t.attempt, workerId, result: { workerId } })),
          );
          refused.push(...res.refused);
          for (const id of res.completed) completions.set(id, (completions.get(id) ?? 0) + 1);
        }
      };
      await Promise.all(workers.map((w) => drain(w.id)));

      expect(refused).toEqual([]);
      expect(claims.size).toBe(n);
      expect(completions.size).toBe(n);
      expect([...claims.values()].every((c) => c === 1)).toBe(true);
      expect([...completions.values()].every((c) => c === 1)).toBe(true);
      expect(new Set(completions.keys())).toEqual(new Set(created.map((t) => t.id)));
      expect(await statusCounts(store, { queue: fx.queue })).toEqual({ completed: n });
    }, 180_000);
  });
}
