import { describe, expect, it } from 'vitest';
import { type ConformanceContext, expectGafferError, fixture, uid } from './helpers.js';

/** Issue 14, item 5: debounce and throttle keys at create time. */
export function flowKeyTests(ctx: ConformanceContext): void {
  describe('createTasks with debounce', () => {
    it('replaces the waiting task of a key: its payload, and its run time pushed to now + ms', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const key = uid('k');
      const t0 = new Date(Date.now() + 10_000);
      const first = await store.createTasks({
        tasks: [{ type: fx.type, queue: fx.queue, payload: { v: 1 }, debounce: { key, ms: 1000 } }],
        now: t0,
      });
      expect(first.outcomes).toEqual(['created']);
      expect(first.tasks[0]!.runAt.getTime()).toBe(t0.getTime() + 1000);

      const t1 = new Date(t0.getTime() + 400);
      const second = await store.createTasks({
        tasks: [{ type: fx.type, queue: fx.queue, payload: { v: 2 }, debounce: { key, ms: 1000 } }],
        now: t1,
      });
      expect(second.outcomes).toEqual(['debounced']);
      const task = second.tasks[0]!;
      expect(task.id).toBe(first.tasks[0]!.id);
      expect(task).toMatchObject({ status: 'queued', payload: { v: 2 } });
      expect(task.runAt.getTime()).toBe(t1.getTime() + 1000);
      expect(await store.countTasks({ type: fx.type })).toMatchObject({ queued: 1 });

      const events = await store.getTaskEvents(task.id);
      const ev = events.find((e) => e.kind === 'debounced');
      expect(ev?.data).toMatchObject({ runAt: expect.any(String), previousRunAt: expect.any(String) });
      expect(new Date(ev!.data!.runAt as string).getTime()).toBe(t1.getTime() + 1000);
      expect(new Date(ev!.data!.previousRunAt as string).getTime()).toBe(t0.getTime() + 1000);

      // Not claimable before its pushed run time; claimable after, with the newest payload.
      const worker = await fx.worker();
      expect(await fx.claim(worker.id, { now: new Date(t0.getTime() + 1200) })).toHaveLength(0);
      const claimed = await fx.claimOne(worker.id, { now: new Date(t1.getTime() + 1001), expectId: task.id });
      expect(claimed.payload).toEqual({ v: 2 });
    });

    it('makes a new task once the key’s task runs, and debounces into that one after', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const key = uid('k');
      const t0 = new Date(Date.now() - 10_000);
      const a = await store.createTasks({
        tasks: [{ type: fx.type, queue: fx.queue, payload: { v: 1 }, debounce: { key, ms: 5 } }],
        now: t0,
      });
      const worker = await fx.worker();
      await fx.claimOne(worker.id, { expectId: a.tasks[0]!.id });

      const b = await store.createTasks({
        tasks: [{ type: fx.type, queue: fx.queue, payload: { v: 2 }, debounce: { key, ms: 5000 } }],
      });
      expect(b.outcomes).toEqual(['created']);
      expect(b.tasks[0]!.id).not.toBe(a.tasks[0]!.id);
      const c = await store.createTasks({
        tasks: [{ type: fx.type, queue: fx.queue, payload: { v: 3 }, debounce: { key, ms: 5000 } }],
      });
      expect(c.outcomes).toEqual(['debounced']);
      expect(c.tasks[0]).toMatchObject({ id: b.tasks[0]!.id, payload: { v: 3 } });
      // The running task kept its payload.
      expect((await store.getTask(a.tasks[0]!.id)).payload).toEqual({ v: 1 });
    });

    it('keys are per task type', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const key = uid('k');
      const other = uid('t');
      const res = await store.createTasks({
        tasks: [
          { type: fx.type, queue: fx.queue, debounce: { key, ms: 1000 } },
          { type: other, queue: fx.queue, debounce: { key, ms: 1000 } },
        ],
      });
      expect(res.outcomes).toEqual(['created', 'created']);
    });

    it('concurrent creates of one key make one task and all answer it', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const key = uid('k');
      const results = await Promise.all(
        Array.from({ length: 16 }, (_, i) =>
          store.createTasks({
            tasks: [{ type: fx.type, queue: fx.queue, payload: { i }, debounce: { key, ms: 60_000 } }],
          }),
        ),
      );
      const ids = new Set(results.map((r) => r.tasks[0]!.id));
      expect(ids.size).toBe(1);
      const outcomes = results.map((r) => r.outcomes[0]).sort();
      expect(outcomes.filter((o) => o === 'created')).toHaveLength(1);
      expect(outcomes.filter((o) => o === 'debounced')).toHaveLength(15);
      expect(await store.countTasks({ type: fx.type })).toMatchObject({ queued: 1 });
    });
  });

  describe('createTasks with throttle', () => {
    it('answers the key’s task within its window and makes a new one after it', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const key = uid('k');
      const t0 = new Date();
      const throttled = (v: number, now: Date) =>
        store.createTasks({
          tasks: [{ type: fx.type, queue: fx.queue, payload: { v }, throttle: { key, ms: 1000 } }],
          now,
        });
      const first = await throttled(1, t0);
      expect(first.outcomes).toEqual(['created']);
      // It runs at once: throttling limits how many are made, not when they run.
      const worker = await fx.worker();
      await fx.claimOne(worker.id, { expectId: first.tasks[0]!.id });

      const second = await throttled(2, new Date(t0.getTime() + 999));
      expect(second.outcomes).toEqual(['throttled']);
      expect(second.tasks[0]).toMatchObject({ id: first.tasks[0]!.id, payload: { v: 1 }, status: 'running' });

      const third = await throttled(3, new Date(t0.getTime() + 1000));
      expect(third.outcomes).toEqual(['created']);
      expect(third.tasks[0]!.id).not.toBe(first.tasks[0]!.id);
      expect(await store.countTasks({ type: fx.type })).toMatchObject({ running: 1, queued: 1 });
    });

    it('a window whose task was deleted lets the next create through', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const key = uid('k');
      const task = { type: fx.type, queue: fx.queue, throttle: { key, ms: 3_600_000 } };
      const first = await store.createTasks({ tasks: [task] });
      await store.deleteTask(first.tasks[0]!.id);
      const second = await store.createTasks({ tasks: [task] });
      expect(second.outcomes).toEqual(['created']);
      expect((await store.createTasks({ tasks: [task] })).tasks[0]!.id).toBe(second.tasks[0]!.id);
    });

    it('concurrent creates of one key make one task', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const key = uid('k');
      const results = await Promise.all(
        Array.from({ length: 16 }, (_, i) =>
          store.createTasks({
            tasks: [{ type: fx.type, queue: fx.queue, payload: { i }, throttle: { key, ms: 60_000 } }],
          }),
        ),
      );
      expect(new Set(results.map((r) => r.tasks[0]!.id)).size).toBe(1);
      expect(results.filter((r) => r.outcomes[0] === 'created')).toHaveLength(1);
      expect(results.filter((r) => r.outcomes[0] === 'throttled')).toHaveLength(15);
      expect(await store.countTasks({ type: fx.type })).toMatchObject({ queued: 1 });
    });
  });

  describe('createTasks with keys in a batch', () => {
    it('answers each task at its index, plain and keyed alike', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const key = uid('k');
      const res = await store.createTasks({
        tasks: [
          { type: fx.type, queue: fx.queue, payload: { n: 0 } },
          { type: fx.type, queue: fx.queue, payload: { n: 1 }, throttle: { key, ms: 60_000 } },
          { type: fx.type, queue: fx.queue, payload: { n: 2 } },
          { type: fx.type, queue: fx.queue, payload: { n: 3 }, throttle: { key, ms: 60_000 } },
        ],
      });
      expect(res.outcomes).toEqual(['created', 'created', 'created', 'throttled']);
      expect(res.tasks.map((t) => (t.payload as { n: number }).n)).toEqual([0, 1, 2, 1]);
    });

    it('is all or nothing: a bad task leaves no key taken and no task made', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const key = uid('k');
      const bad = store.createTasks({
        tasks: [
          { type: fx.type, queue: fx.queue, throttle: { key, ms: 60_000 } },
          { type: fx.type, queue: fx.queue, debounce: { key, ms: 0 } },
        ],
      });
      const err = await expectGafferError(bad, 'validation');
      expect(err.details).toMatchObject({ field: 'tasks[1].debounce.ms' });
      expect(await store.countTasks({ type: fx.type })).toMatchObject({ total: 0 });
      const ok = await store.createTasks({
        tasks: [{ type: fx.type, queue: fx.queue, throttle: { key, ms: 60_000 } }],
      });
      expect(ok.outcomes).toEqual(['created']);
    });

    it('refuses debounce with throttle, debounce with a run time, and keys on session tasks', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const k = { key: uid('k'), ms: 1000 };
      const both = await expectGafferError(
        store.createTasks({ tasks: [{ type: fx.type, debounce: k, throttle: k }] }),
        'validation',
      );
      expect(both.details).toMatchObject({ field: 'throttle' });
      const delayed = await expectGafferError(
        store.createTasks({ tasks: [{ type: fx.type, debounce: k, delayMs: 5 }] }),
        'validation',
      );
      expect(delayed.details).toMatchObject({ field: 'delayMs' });
      const session = await expectGafferError(
        store.createSession({ tasks: [{ type: fx.type, throttle: k } as never] }),
        'validation',
      );
      expect(session.details).toMatchObject({ field: 'tasks[0].throttle' });
    });
  });
}
