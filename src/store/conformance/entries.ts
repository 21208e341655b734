import { describe, expect, it } from 'vitest';
import type { SessionEntry, Task } from '../types.js';
import { type ConformanceContext, fixture, uid } from './helpers.js';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function expectEntry(
  entry: SessionEntry | null | undefined,
  task: Task,
  status: SessionEntry['status'],
): void {
  expect(entry).toEqual({
    short_id: task.key,
    task_type: task.type,
    task_id: task.id,
    user_id: task.userId,
    status,
    created_at: expect.stringMatching(ISO),
    updated_at: expect.stringMatching(ISO),
  });
  expect(Date.parse(entry!.updated_at)).toBeGreaterThanOrEqual(Date.parse(entry!.created_at));
}

/** R3.4, R3.5 (seed 001): open session entries per key, by the tracking policy of each task type. */
export function entryTests(ctx: ConformanceContext): void {
  describe('session entries', () => {
    it('track: a keyed task is an open entry until it finishes, then leaves by itself', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      await store.upsertTaskType({ type: fx.type, tracking: 'track' });
      const key = uid('short');
      const task = await fx.create({ key, userId: 'user123' });
      expect((await store.getTask(task.id)).tracking).toBe('track');

      const open = await store.listOpenEntries(key);
      expect(open).toHaveLength(1);
      expectEntry(open[0], task, 'active');
      expect(await store.getEntry(task.id)).toEqual(open[0]);

      const worker = await fx.worker();
      const run = await fx.claimOne(worker.id, { expectId: task.id });
      expectEntry(await store.getEntry(task.id), task, 'active');
      await fx.complete(run);
      expect(await store.listOpenEntries(key)).toEqual([]);
      expect(await store.getEntry(task.id)).toBeNull();
    });

    it('track is the default, and a dead-lettered task leaves too', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const key = uid('short');
      const { task } = await fx.running({ key, maxAttempts: 1 });
      expect((await store.getTask(task.id)).tracking).toBe('track');
      expect((await store.listOpenEntries(key)).map((e) => e.task_id)).toEqual([task.id]);
      await fx.fail(task);
      expect(await store.listOpenEntries(key)).toEqual([]);
      expect(await store.getEntry(task.id)).toBeNull();
    });

    it('hold: the entry stays after completion until released by task', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      await store.upsertTaskType({ type: fx.type, tracking: 'hold' });
      const key = uid('short');
      const { task } = await fx.running({ key, userId: 'u-hold' });
      expect((await store.getTask(task.id)).tracking).toBe('hold');
      const done = await fx.complete(task);

      const open = await store.listOpenEntries(key);
      expect(open).toHaveLength(1);
      expectEntry(open[0], done, 'completed');
      expectEntry(await store.getEntry(task.id), done, 'completed');

      expect(await store.releaseEntries({ taskId: task.id })).toBe(1);
      expect(await store.listOpenEntries(key)).toEqual([]);
      expect(await store.getEntry(task.id)).toBeNull();
      expect((await store.getTask(task.id)).entryReleasedAt).toBeInstanceOf(Date);
      expect(await store.releaseEntries({ taskId: task.id })).toBe(0);
    });

    it('hold: releasing by key and type releases that type’s entries only', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const otherHold = uid('t');
      await store.upsertTaskType({ type: fx.type, tracking: 'hold' });
      await store.upsertTaskType({ type: otherHold, tracking: 'hold' });
      const key = uid('short');
      const otherKey = uid('short');
      const a = await fx.create({ key });
      const b = await fx.create({ key });
      const other = await fx.create({ key, type: otherHold });
      const elsewhere = await fx.create({ key: otherKey });

      expect((await store.listOpenEntries(key)).map((e) => e.task_id).sort()).toEqual(
        [a.id, b.id, other.id].sort(),
      );
      expect(await store.releaseEntries({ key, type: fx.type })).toBe(2);
      expect((await store.listOpenEntries(key)).map((e) => e.task_id)).toEqual([other.id]);
      expect((await store.listOpenEntries(otherKey)).map((e) => e.task_id)).toEqual([elsewhere.id]);
    });

    it('none: tasks of the type never make an entry', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      await store.upsertTaskType({ type: fx.type, tracking: 'none' });
      const key = uid('short');
      const { task } = await fx.running({ key });
      expect((await store.getTask(task.id)).tracking).toBe('none');
      expect(await store.listOpenEntries(key)).toEqual([]);
      expect(await store.getEntry(task.id)).toBeNull();
      await fx.complete(task);
      expect(await store.listOpenEntries(key)).toEqual([]);
    });

    it('a task without a key makes no entry; entries are listed per key', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const keyless = await fx.create();
      expect(await store.getEntry(keyless.id)).toBeNull();
      const k1 = uid('short');
      const k2 = uid('short');
      const t1 = await fx.create({ key: k1 });
      const t2 = await fx.create({ key: k2 });
      expect((await store.listOpenEntries(k1)).map((e) => e.task_id)).toEqual([t1.id]);
      expect((await store.listOpenEntries(k2)).map((e) => e.task_id)).toEqual([t2.id]);
      expect(await store.listOpenEntries(uid('short'))).toEqual([]);
    });

    it('tasks of a keyed session are entries of that key', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const key = uid('short');
      const res = await store.createSession({
        key,
        userId: 'u-s',
        queue: fx.queue,
        tasks: [{ type: fx.type }, { type: fx.type }],
      });
      const open = await store.listOpenEntries(key);
      expect(open.map((e) => e.task_id).sort()).toEqual(res.tasks.map((t) => t.id).sort());
      for (const e of open) expect(e).toMatchObject({ short_id: key, user_id: 'u-s', status: 'active' });
    });
  });
}
