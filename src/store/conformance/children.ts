import { describe, expect, it } from 'vitest';
import { type ConformanceContext, fixture } from './helpers.js';

/** Fan-in (issue 15, item 3) in the store: a parent waits for the children it spawned, holding no claim. */
export function childrenTests(ctx: ConformanceContext): void {
  describe('children', () => {
    it('a parent waits on its children, is listed by that reason, and runs again once they completed', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task: parent, worker } = await fx.running();
      const { parent: waiting, children } = await store.spawnChildren({
        taskId: parent.id,
        attempt: parent.attempt,
        workerId: worker.id,
        children: [
          { type: fx.type, queue: fx.queue },
          { type: fx.type, queue: fx.queue },
        ],
      });
      expect(waiting.status).toBe('waiting');
      const why = await store.waitingOn(parent.id);
      expect(why?.[0]).toMatchObject({ reason: 'children', pending: 2 });
      expect(
        (await store.listTasks({ queue: fx.queue, waitingOn: 'children' })).items.map((t) => t.id),
      ).toEqual([parent.id]);
      const claimed = await fx.claim(worker.id, { limit: 10 });
      expect(claimed.map((c) => c.id).sort()).toEqual(children.map((c) => c.id).sort());
      await fx.complete(claimed[0]!);
      expect((await store.waitingOn(parent.id))?.[0]).toMatchObject({ reason: 'children', pending: 1 });
      await fx.complete(claimed[1]!);
      expect((await store.getTask(parent.id)).status).toBe('queued');
      await fx.claimOne(worker.id, { expectId: parent.id });
      // Waiting for its children spent no attempt: the run after them counts as its first.
      const rerun = await store.getTask(parent.id);
      expect(rerun.attempt - rerun.attemptFloor).toBe(1);
    });

    it("a child that fails cancels its parent under onChildFailure 'cancel', with the reason recorded", async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task: parent, worker } = await fx.running();
      const { children } = await store.spawnChildren({
        taskId: parent.id,
        attempt: parent.attempt,
        workerId: worker.id,
        children: [{ type: fx.type, queue: fx.queue, maxAttempts: 1 }],
        onChildFailure: 'cancel',
      });
      const [child] = await fx.claim(worker.id, { limit: 1 });
      expect(child?.id).toBe(children[0]!.id);
      await fx.fail(child!, 'boom');
      const p = await store.getTask(parent.id);
      expect(p.status).toBe('cancelled');
      const events = await store.getTaskEvents(parent.id);
      const cancelled = events.find((e) => e.kind === 'cancelled');
      expect(String(cancelled?.data?.reason)).toContain(child!.id);
    });
  });
}
