import { describe, expect, it } from 'vitest';
import type { CreateSessionParams, Task } from '../types.js';
import { type ConformanceContext, expectGafferError, type Fixture, fixture, uid } from './helpers.js';

/** A session of `n` tasks in the fixture's queue and type, with client-chosen ids. */
function sessionParams(
  fx: Fixture,
  n: number,
  extra: Partial<CreateSessionParams> = {},
): CreateSessionParams {
  // Ids deliberately not in index order, so listing by id or by arrival would show.
  const ids = Array.from({ length: n }, (_, i) => `${String.fromCharCode(122 - i)}-${uid('task')}`);
  return {
    id: uid('session'),
    queue: fx.queue,
    tasks: ids.map((id, i) => ({ id, type: fx.type, payload: { index: i } })),
    ...extra,
  };
}

const ids = (tasks: Task[]) => tasks.map((t) => t.id);

/** R3.1–R3.3, R3.7, R3.8, R5.2: sessions, indexed tasks, assignments by index, session bulk actions. */
export function sessionTests(ctx: ConformanceContext): void {
  describe('sessions', () => {
    it('gives the tasks of a session permanent indexes in request order and lists them by index', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const key = uid('key');
      const params = sessionParams(fx, 4, { key, userId: 'user-7', metadata: { study: 'super' } });
      const res = await store.createSession(params);
      expect(res.created).toBe(true);
      expect(res.outcomes).toEqual(['created', 'created', 'created', 'created']);
      expect(res.tasks.map((t) => t.sessionIndex)).toEqual([0, 1, 2, 3]);
      expect(ids(res.tasks)).toEqual(params.tasks.map((t) => t.id));
      for (const t of res.tasks) {
        expect(t).toMatchObject({
          sessionId: params.id,
          key,
          userId: 'user-7',
          queue: fx.queue,
          status: 'queued',
        });
      }
      expect(res.session).toMatchObject({
        id: params.id,
        key,
        userId: 'user-7',
        metadata: { study: 'super' },
        status: 'active',
        taskCount: 4,
        progress: 0,
      });
      expect(res.session.counts).toMatchObject({ queued: 4, running: 0, completed: 0, failed: 0 });

      const listed = await store.getSessionTasks(params.id!);
      expect(ids(listed)).toEqual(params.tasks.map((t) => t.id));
      expect(listed.map((t) => (t.payload as { index: number }).index)).toEqual([0, 1, 2, 3]);
      expect(await store.getSession(params.id!)).toMatchObject({
        id: params.id,
        status: 'active',
        taskCount: 4,
      });
      expect((await store.listSessions({ key })).items.map((s) => s.id)).toEqual([params.id]);
      expect(await store.listTasks({ sessionId: params.id! }).then((p) => p.items.length)).toBe(4);
    });

    it('generates a session id when none is given', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const res = await store.createSession({
        queue: fx.queue,
        tasks: [{ type: fx.type }, { type: fx.type }],
      });
      expect(res.session.id).toMatch(/\S+/);
      expect(res.session.key).toBeNull();
      expect(res.tasks.map((t) => t.sessionId)).toEqual([res.session.id, res.session.id]);
      await expectGafferError(store.getSession(uid('missing')), 'not_found');
    });

    it('claims the task at a given index; 409 while held, 404 when absent; without index the lowest free one', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const params = sessionParams(fx, 4);
      const sessionId = params.id!;
      await store.createSession(params);
      const w1 = await fx.worker();
      const w2 = await fx.worker();

      const two = await store.claimSessionTask({ workerId: w1.id, sessionId, index: 2 });
      expect(two).toMatchObject({ id: params.tasks[2]!.id, sessionIndex: 2, attempt: 1, workerId: w1.id });
      expect((await store.getTask(two.id)).status).toBe('running');
      await expectGafferError(store.claimSessionTask({ workerId: w2.id, sessionId, index: 2 }), 'conflict');
      await expectGafferError(store.claimSessionTask({ workerId: w2.id, sessionId, index: 4 }), 'not_found');
      await expectGafferError(
        store.claimSessionTask({ workerId: w2.id, sessionId: uid('nope'), index: 0 }),
        'not_found',
      );

      const next = [];
      for (let i = 0; i < 3; i++) next.push(await store.claimSessionTask({ workerId: w2.id, sessionId }));
      expect(next.map((t) => t.sessionIndex)).toEqual([0, 1, 3]);
      expect((await store.getTask(params.tasks[2]!.id!)).workerId).toBe(w1.id);
    });

    it('of two workers claiming the same index at once, one wins and the other gets a conflict', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const params = sessionParams(fx, 3);
      await store.createSession(params);
      const workers = await Promise.all([fx.worker(), fx.worker()]);
      const results = await Promise.allSettled(
        workers.map((w) => store.claimSessionTask({ workerId: w.id, sessionId: params.id!, index: 1 })),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(rejected.map((r) => (r.reason as { code?: string }).code)).toEqual(['conflict']);
    });

    it('refuses a session claim by an unknown or stale worker', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const params = sessionParams(fx, 1);
      await store.createSession(params);
      await expectGafferError(
        store.claimSessionTask({ workerId: uid('ghost'), sessionId: params.id!, index: 0 }),
        'worker_not_live',
      );
      const machineId = uid('m');
      const old = await fx.worker({ machineId, name: 'slot' });
      await fx.worker({ machineId, name: 'slot' });
      await expectGafferError(
        store.claimSessionTask({ workerId: old.id, sessionId: params.id!, index: 0 }),
        'worker_not_live',
      );
      expect((await store.getSessionTasks(params.id!))[0]!.status).toBe('queued');
    });

    it('derives the session status from its tasks: active, then completed or failed', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const worker = await fx.worker();
      const good = sessionParams(fx, 3);
      const bad = sessionParams(fx, 3);
      bad.tasks[1] = { ...bad.tasks[1]!, maxAttempts: 1 };
      await store.createSession(good);
      await store.createSession(bad);

      const runAll = async (sessionId: string, failIndex?: number) => {
        for (let index = 0; index < 3; index++) {
          const t = await store.claimSessionTask({ workerId: worker.id, sessionId, index });
          if (index === failIndex) await fx.fail(t, 'bad input', { retryable: false });
          else await fx.complete(t);
          if (index < 2) expect((await store.getSession(sessionId)).status).toBe('active');
        }
      };
      await runAll(good.id!);
      const done = await store.getSession(good.id!);
      expect(done).toMatchObject({ status: 'completed', progress: 1 });
      expect(done.counts).toMatchObject({ completed: 3, queued: 0, running: 0 });

      await runAll(bad.id!, 1);
      const failed = await store.getSession(bad.id!);
      expect(failed.status).toBe('failed');
      expect(failed.counts).toMatchObject({ completed: 2, failed: 1 });
      expect(failed.progress).toBe(1);
    });

    it('re-sending a session creates no duplicates: failed tasks are retried, finished ones stay', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const params = sessionParams(fx, 3, { key: uid('key') });
      params.tasks[1] = { ...params.tasks[1]!, maxAttempts: 1 };
      await store.createSession(params);
      const worker = await fx.worker();
      await fx.complete(
        await store.claimSessionTask({ workerId: worker.id, sessionId: params.id!, index: 0 }),
      );
      await fx.fail(await store.claimSessionTask({ workerId: worker.id, sessionId: params.id!, index: 1 }));

      const again = await store.createSession(params);
      expect(again.created).toBe(false);
      expect(again.outcomes).toEqual(['existing', 'retried', 'existing']);
      expect(again.tasks.map((t) => t.status)).toEqual(['completed', 'retrying', 'queued']);
      const listed = await store.getSessionTasks(params.id!);
      expect(ids(listed)).toEqual(params.tasks.map((t) => t.id));
      expect(listed.map((t) => t.status)).toEqual(['completed', 'retrying', 'queued']);
      expect(listed[1]!.retryHistory).toHaveLength(1);
      expect(again.session).toMatchObject({ taskCount: 3, status: 'active' });
    });

    it('cancelSession cancels the unfinished tasks and leaves finished ones', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const params = sessionParams(fx, 3);
      const sessionId = params.id!;
      await store.createSession(params);
      const worker = await fx.worker();
      await fx.complete(await store.claimSessionTask({ workerId: worker.id, sessionId, index: 0 }));
      const running = await store.claimSessionTask({ workerId: worker.id, sessionId, index: 2 });

      const res = await store.cancelSession({ sessionId, by: 'ops' });
      expect(res.ids).toContain(params.tasks[1]!.id);
      expect(res.ids).not.toContain(params.tasks[0]!.id);
      const [t0, t1, t2] = await store.getSessionTasks(sessionId);
      expect(t0!.status).toBe('completed');
      expect(t1!.status).toBe('cancelled');
      expect(t2!.status === 'cancelled' || t2!.cancelRequested).toBe(true);

      // The holder learns of it and stops; then the whole session is over.
      expect((await store.heartbeat({ workerId: worker.id })).cancelled.map((c) => c.taskId)).toEqual([
        running.id,
      ]);
      await fx.fail(running, 'aborted');
      expect((await store.getSession(sessionId)).status).toBe('cancelled');
    });

    it('retrySessionFailed retries only the failed tasks', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const params = sessionParams(fx, 4);
      const sessionId = params.id!;
      await store.createSession(params);
      const worker = await fx.worker();
      await fx.complete(await store.claimSessionTask({ workerId: worker.id, sessionId, index: 0 }));
      for (const index of [1, 3]) {
        const t = await store.claimSessionTask({ workerId: worker.id, sessionId, index });
        await fx.fail(t, 'bad region', { retryable: false });
      }
      expect((await store.getSession(sessionId)).counts).toMatchObject({
        completed: 1,
        failed: 2,
        queued: 1,
      });

      const res = await store.retrySessionFailed({ sessionId, by: 'ops', reason: 'redrive' });
      expect(res.changed).toBe(2);
      expect([...res.ids].sort()).toEqual([params.tasks[1]!.id, params.tasks[3]!.id].sort());
      const tasks = await store.getSessionTasks(sessionId);
      expect(tasks.map((t) => t.status)).toEqual(['completed', 'retrying', 'queued', 'retrying']);
      expect(tasks[1]!.retryHistory[0]).toMatchObject({ by: 'ops', reason: 'redrive' });
    });

    it('bulk retry and cancel accept a session filter', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const mine = sessionParams(fx, 3);
      const other = sessionParams(fx, 1);
      await store.createSession(mine);
      await store.createSession(other);
      const worker = await fx.worker();
      const t0 = await store.claimSessionTask({ workerId: worker.id, sessionId: mine.id!, index: 0 });
      await fx.fail(t0, 'bad', { retryable: false });

      const retried = await store.retryTasks({ filter: { sessionId: mine.id! }, by: 'ops' });
      expect(retried.changed).toBe(1);
      expect(retried.ids).toEqual([t0.id]);

      const cancelled = await store.cancelTasks({ filter: { sessionId: mine.id! }, by: 'ops' });
      expect(cancelled.changed).toBe(3);
      expect([...cancelled.ids].sort()).toEqual(mine.tasks.map((t) => t.id!).sort());
      expect((await store.getSession(mine.id!)).status).toBe('cancelled');
      expect((await store.getSessionTasks(other.id!))[0]!.status).toBe('queued');
    });

    it('deleteSession removes the session, its tasks and their events, and fences off running work', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const params = sessionParams(fx, 3);
      const sessionId = params.id!;
      await store.createSession(params);
      const worker = await fx.worker();
      const running = await store.claimSessionTask({ workerId: worker.id, sessionId, index: 1 });

      await store.deleteSession(sessionId);
      await expectGafferError(store.getSession(sessionId), 'not_found');
      for (const t of params.tasks) {
        await expectGafferError(store.getTask(t.id!), 'not_found');
        expect(await store.getTaskEvents(t.id!).catch(() => [])).toEqual([]);
      }
      const late = await store.completeTasks([
        { taskId: running.id, attempt: 1, workerId: worker.id, result: 1 },
      ]);
      expect(late.completed).toEqual([]);
      expect(await fx.claim(worker.id, { limit: 5 })).toEqual([]);
    });
  });
}
