import { describe, expect, it } from 'vitest';
import type { ConformanceContext } from './helpers.js';
import { expectGafferError, fixture, uid } from './helpers.js';

/** Dependencies (issue 15, item 2): a task waits for others, then runs; a failed one ends it per policy. */
export function dependencyTests(ctx: ConformanceContext): void {
  describe('dependencies', () => {
    it('a task waits until its dependency completed, then becomes runnable in the same transaction', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const first = await fx.create();
      const second = await fx.create({ dependsOn: [first.id] });
      expect(second.status).toBe('waiting');
      expect((await store.getTask(second.id)).status).toBe('waiting');
      const w = await fx.worker();
      // Only the first is claimable while the second waits.
      const claimed = await fx.claim(w.id, { limit: 10 });
      expect(claimed.map((c) => c.id)).toEqual([first.id]);
      expect((await store.listTasks({ ids: [second.id], status: 'waiting' })).items).toHaveLength(1);
      expect((await store.countTasks({ queue: fx.queue })).waiting).toBe(1);
      await fx.complete(claimed[0]!);
      // No further call: the completion itself made it runnable.
      expect((await store.getTask(second.id)).status).toBe('queued');
      expect((await store.countTasks({ queue: fx.queue })).waiting).toBe(0);
      await fx.claimOne(w.id, { expectId: second.id });
      const graph = await store.getTaskGraph(second.id);
      expect(graph.dependsOn.map((d) => [d.id, d.status])).toEqual([[first.id, 'completed']]);
      expect((await store.getTaskGraph(first.id)).dependents.map((d) => d.id)).toEqual([second.id]);
      const kinds = (await store.getTaskEvents(second.id)).map((e) => e.kind);
      expect(kinds).toContain('wait_ended');
    });

    it('a chain of 1,000 completes in order', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const ids = Array.from({ length: 1000 }, (_, i) => uid(`c${i}`));
      const { tasks } = await store.createTasks({
        tasks: ids.map((id, i) => ({
          id,
          type: fx.type,
          queue: fx.queue,
          payload: { i },
          ...(i > 0 ? { dependsOn: [ids[i - 1]!] } : {}),
        })),
      });
      expect(tasks.map((t) => t.status)).toEqual(['queued', ...Array(999).fill('waiting')]);
      expect((await store.countTasks({ queue: fx.queue })).waiting).toBe(999);
      const w = await fx.worker();
      const order: string[] = [];
      for (let i = 0; i < 1000; i++) {
        const claimed = await fx.claim(w.id, { limit: 5 });
        expect(claimed).toHaveLength(1);
        order.push(claimed[0]!.id);
        await store.completeTasks([
          { taskId: claimed[0]!.id, attempt: claimed[0]!.attempt, workerId: w.id, seq: claimed[0]!.seq },
        ]);
      }
      expect(order).toEqual(ids);
      const counts = await store.countTasks({ queue: fx.queue });
      expect(counts).toMatchObject({ completed: 1000, waiting: 0, queued: 0 });
    }, 180_000);
    it('a diamond runs its join once, after both sides', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const session = await store.createSession({
        id: uid('diamond'),
        queue: fx.queue,
        tasks: [
          { type: fx.type, payload: { n: 'a' } },
          { type: fx.type, payload: { n: 'b' }, after: [0] },
          { type: fx.type, payload: { n: 'c' }, after: [0] },
          { type: fx.type, payload: { n: 'd' }, after: [1, 2] },
        ],
      });
      expect(session.tasks.map((t) => t.status)).toEqual(['queued', 'waiting', 'waiting', 'waiting']);
      const w = await fx.worker();
      const [a] = await fx.claim(w.id, { limit: 10 });
      expect(a!.sessionIndex).toBe(0);
      await fx.complete(a!);
      const sides = await fx.claim(w.id, { limit: 10 });
      expect(sides.map((s) => s.sessionIndex).sort()).toEqual([1, 2]);
      await fx.complete(sides[0]!);
      expect((await store.getTask(session.tasks[3]!.id)).status).toBe('waiting');
      expect((await store.getTaskGraph(session.tasks[3]!.id)).wait).toMatchObject({
        kind: 'dependencies',
        pending: 1,
      });
      await fx.complete(sides[1]!);
      const [d] = await fx.claim(w.id, { limit: 10 });
      expect(d!.sessionIndex).toBe(3);
      expect(await fx.claim(w.id, { limit: 10 })).toEqual([]);
    });

    it('concurrent completions of both sides of a diamond release the join exactly once', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const w = await fx.worker();
      for (let round = 0; round < 5; round++) {
        const b = await fx.create();
        const c = await fx.create();
        const d = await fx.create({ dependsOn: [b.id, c.id] });
        const claimed = await fx.claim(w.id, { limit: 2 });
        await Promise.all(claimed.map((t) => fx.complete(t)));
        expect((await store.getTask(d.id)).status).toBe('queued');
        await fx.complete(await fx.claimOne(w.id, { expectId: d.id }));
      }
    });

    it("a failed dependency cancels a dependent with policy 'cancel', and the cancellation cascades", async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task: dep } = await fx.running({ maxAttempts: 1 });
      const child = await fx.create({ dependsOn: [dep.id] });
      const grandchild = await fx.create({ dependsOn: [child.id] });
      await fx.fail(dep, 'boom');
      const c = await store.getTask(child.id);
      expect(c.status).toBe('cancelled');
      expect(c.finishedAt).not.toBeNull();
      expect((await store.getTask(grandchild.id)).status).toBe('cancelled');
      const events = await store.getTaskEvents(child.id);
      const failed = events.find((e) => e.kind === 'dependency_failed');
      expect(failed?.data).toMatchObject({ dependency: dep.id, status: 'failed', policy: 'cancel' });
      const cancelled = events.find((e) => e.kind === 'cancelled');
      expect(String(cancelled?.data?.reason)).toContain(dep.id);
      expect((await store.countTasks({ queue: fx.queue })).waiting).toBe(0);
    });

    it("a failed or cancelled dependency still runs a dependent with policy 'run'", async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task: dep } = await fx.running({ maxAttempts: 1 });
      const other = await fx.create({ priority: -1 });
      const dependent = await fx.create({ dependsOn: [dep.id, other.id], onDependencyFailure: 'run' });
      await fx.fail(dep, 'boom');
      expect((await store.getTask(dependent.id)).status).toBe('waiting');
      await store.cancelTask({ taskId: other.id });
      expect((await store.getTask(dependent.id)).status).toBe('queued');
      const events = await store.getTaskEvents(dependent.id);
      expect(events.filter((e) => e.kind === 'dependency_failed').map((e) => e.data?.status)).toEqual([
        'failed',
        'cancelled',
      ]);
    });

    it('depending on tasks that already finished counts them at creation', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task } = await fx.running();
      await fx.complete(task);
      const after = await fx.create({ dependsOn: [task.id] });
      expect(after.status).toBe('queued');
      const failed = await fixture(store).failed();
      const cancelled = await fx.create({ dependsOn: [failed.task.id] });
      expect(cancelled.status).toBe('cancelled');
    });

    it('a cycle is refused at creation, naming the field', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const err = await expectGafferError(
        store.createSession({
          id: uid('cyc'),
          queue: fx.queue,
          tasks: [
            { type: fx.type },
            { type: fx.type, after: [2] },
            { type: fx.type, after: [3] },
            { type: fx.type, after: [1] },
          ],
        }),
        'validation',
      );
      expect(err.details?.field).toMatch(/^tasks\[[123]\]\.after$/);
      const [a, b] = [uid('a'), uid('b')];
      const err2 = await expectGafferError(
        store.createTasks({
          tasks: [
            { id: a, type: fx.type, queue: fx.queue, dependsOn: [b] },
            { id: b, type: fx.type, queue: fx.queue, dependsOn: [a] },
          ],
        }),
        'validation',
      );
      expect(err2.details?.field).toMatch(/^tasks\[[01]\]\.dependsOn$/);
      expect((await store.listTasks({ ids: [a, b] })).items).toEqual([]);
      const missing = await expectGafferError(fx.create({ dependsOn: [uid('nobody')] }), 'validation');
      expect(missing.details?.field).toBe('dependsOn[0]');
      const self = await expectGafferError(
        store.createSession({ id: uid('self'), queue: fx.queue, tasks: [{ type: fx.type, after: [0] }] }),
        'validation',
      );
      expect(self.details?.field).toBe('tasks[0].after[0]');
    });

    it('cancelling a waiting task takes it out of the waits; deleting a dependency releases per policy', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const dep = await fx.create();
      const waiting = await fx.create({ dependsOn: [dep.id] });
      const cancelled = await store.cancelTask({ taskId: waiting.id });
      expect(cancelled.status).toBe('cancelled');
      expect((await store.getTaskGraph(waiting.id)).wait).toBeNull();
      const runAnyway = await fx.create({ dependsOn: [dep.id], onDependencyFailure: 'run' });
      await store.deleteTask(dep.id);
      expect((await store.getTask(runAnyway.id)).status).toBe('queued');
    });
  });
}
