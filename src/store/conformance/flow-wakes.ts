import { describe, expect, it } from 'vitest';
import type { Wake } from '../types.js';
import { type ConformanceContext, fixture } from './helpers.js';
import { probing } from './wake-probe.js';

/** Waits up to `ms` for a wake-up `pick` accepts among those the probe heard. */
async function heard(
  wakes: Array<Wake | null>,
  pick: (w: Wake) => boolean,
  ms: number,
): Promise<Wake | undefined> {
  const deadline = Date.now() + ms;
  for (;;) {
    const w = wakes.find((x): x is Wake => x !== null && pick(x));
    if (w || Date.now() > deadline) return w;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A limit that opens again commits no new task, so without these wake-ups a claim held back by it
 * would wait for its fallback poll (migration 0016).
 */
export function flowWakeTests(ctx: ConformanceContext): void {
  describe('flow control: wake-ups when a limit opens', () => {
    it('a running task of a queue under a concurrency limit wakes its queue and type when it ends', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const q = { scope: 'queue', name: fx.queue } as const;
      try {
        await store.setLimits({ ...q, concurrency: 1 });
        const { task } = await fx.running();
        await probing(store, fx.type, async (probe) => {
          await fx.complete(task);
          const w = await heard(probe.wakes, (x) => x.queue === fx.queue, 5_000);
          expect(w).toEqual({ queue: fx.queue, type: fx.type, count: 1 });
        });
      } finally {
        await store.clearLimits(q);
      }
    });

    it('a task that ends in a queue without a limit wakes no one', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task } = await fx.running();
      await probing(store, fx.type, async (probe) => {
        await fx.complete(task);
        await new Promise((r) => setTimeout(r, 300));
        expect(probe.wakes.filter((x) => x?.queue === fx.queue)).toEqual([]);
      });
    });

    it('a claim that fills a rate window wakes its queue and type when the window opens', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const q = { scope: 'queue', name: fx.queue } as const;
      try {
        await store.setLimits({ ...q, rate: { limit: 2, intervalMs: 800 } });
        await fx.createMany(3);
        const worker = await fx.worker();
        await probing(store, fx.type, async (probe) => {
          expect(await fx.claim(worker.id, { limit: 5 })).toHaveLength(2);
          const w = await heard(probe.wakes, (x) => x.queue === fx.queue, 5_000);
          expect(w).toMatchObject({ queue: fx.queue, type: fx.type, count: 2 });
          expect(w!.delayMs).toBeGreaterThan(0);
          expect(w!.delayMs).toBeLessThanOrEqual(800);
        });
      } finally {
        await store.clearLimits(q);
      }
    });

    it('a claim that fills a key rate window wakes its queue and type when the key opens', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const q = { scope: 'queue', name: fx.queue } as const;
      try {
        await store.setLimits({ ...q, keyRate: { limit: 1, intervalMs: 700 } });
        await fx.createMany(2, { concurrencyKey: 'provider' });
        const worker = await fx.worker();
        await probing(store, fx.type, async (probe) => {
          expect(await fx.claim(worker.id, { limit: 5 })).toHaveLength(1);
          const w = await heard(probe.wakes, (x) => x.queue === fx.queue, 5_000);
          expect(w).toMatchObject({ queue: fx.queue, type: fx.type, count: 1 });
          expect(w!.delayMs).toBeGreaterThan(0);
          expect(w!.delayMs).toBeLessThanOrEqual(700);
        });
      } finally {
        await store.clearLimits(q);
      }
    });
  });
}
