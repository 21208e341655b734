import { describe, expect, it } from 'vitest';
import type { Task } from '../types.js';
import { type ConformanceContext, expectGafferError, fixture, uid } from './helpers.js';

/** R1: creating, reading, listing and deleting tasks; per-type configuration. */
export function createTests(ctx: ConformanceContext): void {
  describe('createTasks', () => {
    it('creates a queued task with the documented defaults and a created event', async () => {
      const store = ctx.store();
      const type = uid('t');
      const before = Date.now();
      const { tasks, outcomes } = await store.createTasks({ tasks: [{ type, payload: { hello: 'world' } }] });
      expect(outcomes).toEqual(['created']);
      const task = tasks[0]!;
      expect(task.id).toMatch(/\S+/);
      expect(task).toMatchObject({
        type,
        queue: 'default',
        status: 'queued',
        payload: { hello: 'world' },
        priority: 0,
        attempt: 0,
        maxAttempts: 3,
        manualRetries: 0,
        retryHistory: [],
        workerId: null,
        leaseExpiresAt: null,
        result: null,
        error: null,
        finishedAt: null,
        cancelRequested: false,
      });
      expect(task.createdAt).toBeInstanceOf(Date);
      expect(task.runAt.getTime()).toBeLessThanOrEqual(Date.now() + 1000);
      expect(task.createdAt.getTime()).toBeGreaterThanOrEqual(before - 5000);

      const read = await store.getTask(task.id);
      expect(read).toMatchObject({ id: task.id, type, status: 'queued', payload: { hello: 'world' } });
      const events = await store.getTaskEvents(task.id);
      expect(events.map((e) => e.kind)).toEqual(['created']);
      expect(events[0]!.taskId).toBe(task.id);
    });

    it('stores every field the caller sets', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const id = uid('task');
      const runAt = new Date(Date.now() + 3_600_000);
      const payload = { nested: { list: [1, 'two', null, true], n: 1.5 }, empty: {} };
      const task = await fx.create({
        id,
        payload,
        idempotencyKey: uid('idem'),
        key: uid('key'),
        userId: 'user-1',
        priority: 7,
        runAt,
        maxAttempts: 9,
        timeoutMs: 45_000,
        backoff: { baseMs: 250, factor: 3, jitter: 0 },
        metadata: { source: 'test', tags: ['a'] },
      });
      const read = await store.getTask(id);
      for (const t of [task, read]) {
        expect(t).toMatchObject({
          id,
          queue: fx.queue,
          type: fx.type,
          payload,
          userId: 'user-1',
          priority: 7,
          maxAttempts: 9,
          timeoutMs: 45_000,
          metadata: { source: 'test', tags: ['a'] },
        });
        expect(t.runAt.getTime()).toBe(runAt.getTime());
        expect(t.backoff).toMatchObject({ baseMs: 250, factor: 3, jitter: 0 });
        expect(t.backoff.maxMs).toBeGreaterThan(0);
      }
    });

    it('delays a task by delayMs', async () => {
      const fx = fixture(ctx.store());
      const before = Date.now();
      const task = await fx.create({ delayMs: 120_000 });
      expect(task.runAt.getTime()).toBeGreaterThanOrEqual(before + 120_000 - 2000);
      expect(task.runAt.getTime()).toBeLessThanOrEqual(Date.now() + 120_000 + 2000);
    });

    it('returns the existing task when the same id is sent again', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const id = uid('task');
      const first = await fx.create({ id, payload: { v: 1 } });
      const again = await store.createTasks({
        tasks: [{ id, type: fx.type, queue: fx.queue, payload: { v: 2 } }],
      });
      expect(again.outcomes).toEqual(['existing']);
      expect(again.tasks[0]!.id).toBe(id);
      expect(again.tasks[0]!.payload).toEqual({ v: 1 });
      expect((await store.listTasks({ queue: fx.queue })).items.map((t) => t.id)).toEqual([first.id]);
    });

    it('creates one task when a batch names the same id twice', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const id = uid('task');
      const res = await store.createTasks({
        tasks: [
          { id, type: fx.type, queue: fx.queue, payload: { v: 1 } },
          { id, type: fx.type, queue: fx.queue, payload: { v: 2 } },
        ],
      });
      expect(res.outcomes).toEqual(['created', 'existing']);
      expect(res.tasks.map((t) => t.id)).toEqual([id, id]);
      expect((await store.listTasks({ queue: fx.queue })).items).toHaveLength(1);
    });

    it('returns the existing task for a repeated idempotency key', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const idempotencyKey = uid('idem');
      const first = await fx.create({ idempotencyKey });
      const again = await store.createTasks({ tasks: [{ type: fx.type, queue: fx.queue, idempotencyKey }] });
      expect(again.outcomes).toEqual(['existing']);
      expect(again.tasks[0]!.id).toBe(first.id);
      expect(again.tasks[0]!.idempotencyKey).toBe(idempotencyKey);
      expect((await store.listTasks({ queue: fx.queue })).items).toHaveLength(1);
    });

    it('creates a large batch in request order', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const n = 1000;
      const { tasks, outcomes } = await store.createTasks({
        tasks: Array.from({ length: n }, (_, i) => ({ type: fx.type, queue: fx.queue, payload: { i } })),
      });
      expect(tasks).toHaveLength(n);
      expect(outcomes.every((o) => o === 'created')).toBe(true);
      expect(tasks.map((t) => (t.payload as { i: number }).i)).toEqual(
        Array.from({ length: n }, (_, i) => i),
      );
      expect(new Set(tasks.map((t) => t.id)).size).toBe(n);
    });

    it.each([
      ['an empty type', { type: '' }],
      ['an id with spaces', { id: 'not a valid id' }],
    ])('creates nothing when one task of the batch has %s', async (_what, bad) => {
      const store = ctx.store();
      const fx = fixture(store);
      const goodId = uid('task');
      await expectGafferError(
        store.createTasks({
          tasks: [
            { id: goodId, type: fx.type, queue: fx.queue },
            { type: fx.type, queue: fx.queue, ...bad },
          ],
        }),
        'validation',
      );
      expect(await store.findTask(goodId)).toBeNull();
      expect((await store.listTasks({ queue: fx.queue })).items).toEqual([]);
    });

    it('re-sending a failed task id with retry: true retries it and appends to its history', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task } = await fx.failed({ id: uid('task') });
      const res = await store.createTasks({
        tasks: [{ id: task.id, type: fx.type, queue: fx.queue }],
        retry: true,
        by: 'resender',
      });
      expect(res.outcomes).toEqual(['retried']);
      const after = await store.getTask(task.id);
      expect(after.status).toBe('retrying');
      expect(after.payload).toEqual(task.payload);
      expect(after.retryHistory).toHaveLength(1);
      expect(after.retryHistory[0]).toMatchObject({ by: 'resender', outcome: null });
    });

    it('re-sending a failed task id without retry: true leaves it failed', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task } = await fx.failed({ id: uid('task') });
      const res = await store.createTasks({ tasks: [{ id: task.id, type: fx.type, queue: fx.queue }] });
      expect(res.outcomes).toEqual(['existing']);
      expect((await store.getTask(task.id)).status).toBe('failed');
    });

    it('re-sending with retry: true never re-runs a completed task or disturbs a queued one', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task: run } = await fx.running({ id: uid('task') });
      const done = await fx.complete(run);
      const queued = await fx.create({ id: uid('task') });
      const res = await store.createTasks({
        tasks: [
          { id: done.id, type: fx.type, queue: fx.queue },
          { id: queued.id, type: fx.type, queue: fx.queue },
        ],
        retry: true,
      });
      expect(['existing', 'retry_refused']).toContain(res.outcomes[0]);
      expect(res.outcomes[1]).toBe('existing');
      const doneAfter = await store.getTask(done.id);
      expect(doneAfter.status).toBe('completed');
      expect(doneAfter.retryHistory).toEqual([]);
      expect((await store.getTask(queued.id)).status).toBe('queued');
    });
  });

  describe('reading, listing and deleting tasks', () => {
    it('getTask throws not_found and findTask returns null for an unknown id', async () => {
      const store = ctx.store();
      const err = await expectGafferError(store.getTask(uid('missing')), 'not_found');
      expect(err.message).toMatch(/missing_/);
      expect(await store.findTask(uid('missing'))).toBeNull();
    });

    it('lists by queue, status and type with cursor pagination and no duplicates', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const created = await fx.createMany(7);
      const otherType = uid('t');
      await store.createTasks({ tasks: [{ type: otherType, queue: fx.queue }] });

      const seen: string[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 10; page++) {
        const res = await store.listTasks({
          queue: fx.queue,
          type: fx.type,
          limit: 3,
          ...(cursor ? { cursor } : {}),
        });
        expect(res.items.length).toBeLessThanOrEqual(3);
        seen.push(...res.items.map((t) => t.id));
        if (!res.nextCursor) break;
        cursor = res.nextCursor;
      }
      expect(seen).toHaveLength(7);
      expect(new Set(seen)).toEqual(new Set(created.map((t) => t.id)));

      const asc = await store.listTasks({ queue: fx.queue, type: fx.type, order: 'asc', limit: 100 });
      expect(asc.items.map((t) => t.id)).toEqual(created.map((t) => t.id));
      const desc = await store.listTasks({ queue: fx.queue, type: fx.type, order: 'desc', limit: 100 });
      expect(desc.items.map((t) => t.id)).toEqual(created.map((t) => t.id).reverse());

      expect((await store.listTasks({ queue: fx.queue, status: 'running' })).items).toEqual([]);
      expect((await store.listTasks({ queue: fx.queue, type: otherType })).items).toHaveLength(1);
      expect(
        (await store.listTasks({ ids: [created[2]!.id, created[4]!.id] })).items.map((t) => t.id).sort(),
      ).toEqual([created[2]!.id, created[4]!.id].sort());
    });

    it('lists by key, user, worker and error text', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task: dead } = await fx.failed({ maxAttempts: 1 });
      const { task: run, worker } = await fx.running();
      const key = uid('key');
      const withKey = await fx.create({ key, userId: 'u-list' });
      await fx.create();
      const ids = (tasks: Task[]) => tasks.map((t) => t.id);

      expect(ids((await store.listTasks({ key })).items)).toEqual([withKey.id]);
      expect(ids((await store.listTasks({ queue: fx.queue, userId: 'u-list' })).items)).toEqual([withKey.id]);
      expect(ids((await store.listTasks({ workerId: worker.id })).items)).toEqual([run.id]);
      expect(ids((await store.listTasks({ queue: fx.queue, errorContains: 'boo' })).items)).toEqual([
        dead.id,
      ]);
      expect(
        ids((await store.listTasks({ queue: fx.queue, status: ['failed', 'running'] })).items).sort(),
      ).toEqual([dead.id, run.id].sort());
    });

    it('counts tasks by status', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      await fx.running();
      await fx.createMany(3);
      const counts = await store.countTasks({ queue: fx.queue });
      expect(counts.queued).toBe(3);
      expect(counts.running).toBe(1);
      expect(counts.completed ?? 0).toBe(0);
    });

    it('deleteTask removes the task and its events; deleteTasks removes by filter', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const one = await fx.create();
      await store.deleteTask(one.id);
      await expectGafferError(store.getTask(one.id), 'not_found');
      const events = await store.getTaskEvents(one.id).catch(() => []);
      expect(events).toEqual([]);

      const keep = await fx.create({ priority: 1 });
      const otherType = uid('t');
      await store.createTasks({ tasks: [0, 1, 2].map(() => ({ type: otherType, queue: fx.queue })) });
      expect(await store.deleteTasks({ queue: fx.queue, type: otherType })).toBe(3);
      expect((await store.listTasks({ queue: fx.queue })).items.map((t) => t.id)).toEqual([keep.id]);
    });
  });

  describe('task types', () => {
    it('applies a type’s max attempts and timeout to tasks that name none, and a task’s own values win', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const config = await store.upsertTaskType({ type: fx.type, maxAttempts: 6, timeoutMs: 9_000 });
      expect(config).toMatchObject({ type: fx.type, maxAttempts: 6, timeoutMs: 9_000, tracking: 'track' });
      expect(await store.getTaskType(fx.type)).toMatchObject({ type: fx.type, maxAttempts: 6 });
      expect((await store.listTaskTypes()).map((t) => t.type)).toContain(fx.type);

      const inherits = await fx.create();
      expect(inherits).toMatchObject({ maxAttempts: 6, timeoutMs: 9_000 });
      const own = await fx.create({ maxAttempts: 2, timeoutMs: 1_000 });
      expect(own).toMatchObject({ maxAttempts: 2, timeoutMs: 1_000 });

      const updated = await store.upsertTaskType({ type: fx.type, tracking: 'hold' });
      expect(updated.tracking).toBe('hold');
      expect(await store.getTaskType(uid('unknown'))).toBeNull();
    });
  });
}
