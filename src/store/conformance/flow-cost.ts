import { describe, expect, it } from 'vitest';
import { claimReading } from './claim-types.js';
import { type ConformanceContext, fixture } from './helpers.js';

/** What a claim under a key limit reads: the heads of the keys it visits, never a key's backlog. */
export function flowCostTests(ctx: ConformanceContext): void {
  describe('flow control: the cost of a claim under a key limit', () => {
    it('a key at its limit with 300 waiting costs a probe, not its 300 rows', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const q = { scope: 'queue', name: fx.queue } as const;
      try {
        await fx.createMany(300, { concurrencyKey: 'big' });
        const small = await fx.createMany(3, { concurrencyKey: 'small' });
        await store.setLimits({ ...q, keyConcurrency: 1 });
        const worker = await fx.worker();
        const first = await fx.claim(worker.id, { limit: 1 });
        expect(first.map((t) => t.concurrencyKey)).toEqual(['big']);
        const p = { workerId: worker.id, types: [fx.type], queues: [fx.queue], limit: 5 };
        const other = await claimReading(store, p);
        expect(other.ids).toEqual([small[0]!.id]);
        // The pair's top priority, two key probes, each key's head, the row taken: a handful.
        expect(other.rowsRead).toBeLessThan(30);
        // Both keys at their limit: still a handful.
        const none = await claimReading(store, p);
        expect(none.ids).toEqual([]);
        expect(none.rowsRead).toBeLessThan(30);
      } finally {
        await store.clearLimits(q);
      }
    });
  });
}
