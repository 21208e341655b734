import { describe, expect, it } from 'vitest';
import { type ConformanceContext, expectGafferError, later, uid } from './helpers.js';

export function workerPageTests(ctx: ConformanceContext): void {
  describe('worker pages', () => {
    it('pages through a machine’s workers newest first, each once, with a cursor', async () => {
      const store = ctx.store();
      const machineId = uid('m');
      const ids: string[] = [];
      for (let i = 0; i < 7; i++) ids.push((await store.registerWorker({ machineId })).id);
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      for (;;) {
        const page = await store.listWorkersPage({ machineId, limit: 3, cursor });
        expect(page.items.length).toBeLessThanOrEqual(3);
        seen.push(...page.items.map((w) => w.id));
        pages++;
        if (!page.nextCursor) break;
        cursor = page.nextCursor;
      }
      expect(pages).toBe(3);
      expect(seen).toEqual([...ids].reverse());
      expect((await store.listWorkers({ machineId })).map((w) => w.id)).toEqual([...ids].reverse());
    });

    it('lists stale workers only when asked, and counts live and stale ones whatever the page', async () => {
      const store = ctx.store();
      const machineId = uid('m');
      const a = await store.registerWorker({ machineId });
      const b = await store.registerWorker({ machineId });
      const c = await store.registerWorker({ machineId });
      await store.deleteWorker(c.id);
      await store.heartbeats([{ workerId: a.id }]);
      // b goes stale: no heartbeat past the stale age.
      await store.markStaleWorkers({ now: later(store.options.staleAfterMs + 60_000) });
      const live = (await store.listWorkersPage({ machineId, limit: 10 })).items.map((w) => w.id);
      const all = (await store.listWorkersPage({ machineId, includeStale: true, limit: 1 })).items;
      expect(all).toHaveLength(1);
      const every = (await store.listWorkers({ machineId, includeStale: true })).map((w) => w.id);
      expect(every).toEqual(expect.arrayContaining([a.id, b.id]));
      expect(every).not.toContain(c.id);
      expect(live.every((id) => every.includes(id))).toBe(true);
      // The counts equal the whole listing, however many pages it takes.
      const counts = await store.countWorkers();
      const liveAll = await store.listWorkers();
      const everyAll = await store.listWorkers({ includeStale: true });
      expect(counts).toEqual({ live: liveAll.length, stale: everyAll.length - liveAll.length });
      expect(everyAll.filter((w) => w.stale)).toHaveLength(counts.stale);
    });

    it('refuses a limit out of range and a cursor it did not make', async () => {
      const store = ctx.store();
      for (const limit of [0, 1001, 2.5]) {
        const err = await expectGafferError(store.listWorkersPage({ limit }), 'validation');
        expect(err.details).toMatchObject({ field: 'limit' });
      }
      const err = await expectGafferError(store.listWorkersPage({ cursor: 'not-a-cursor' }), 'validation');
      expect(err.details).toMatchObject({ field: 'cursor' });
    });
  });
}
