import { describe, expect, it } from 'vitest';
import { type ConformanceContext, fixture, later } from './helpers.js';

const HOUR = 3_600_000;

export function retentionTests(ctx: ConformanceContext): void {
  describe('retention in windows', () => {
    it('prunes finished tasks spread across many windows of unfinished ones, a small batch at a time', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const w = await fx.worker();
      const finished: string[] = [];
      const kept: string[] = [];
      for (let round = 0; round < 3; round++) {
        const [t] = await fx.createMany(1);
        const [c] = await fx.claim(w.id, { limit: 1 });
        expect(c?.id).toBe(t!.id);
        await fx.complete({ ...c!, workerId: w.id });
        finished.push(t!.id);
        // More unfinished tasks than a window of batch 2 spans (4 × 2 seqs).
        kept.push(...(await fx.createMany(11, { runAt: later(10 * HOUR) })).map((x) => x.id));
      }
      const res = await store.prune({ olderThanMs: HOUR, now: later(2 * HOUR), batchSize: 2 });
      expect(res.tasks).toBeGreaterThanOrEqual(3);
      for (const id of finished) expect(await store.findTask(id)).toBeNull();
      expect((await store.listTasks({ queue: fx.queue, limit: 100 })).items).toHaveLength(kept.length);
      expect((await store.countTasks({ queue: fx.queue })).completed).toBe(0);
    });
  });
}
