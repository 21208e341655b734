import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store, StoreOptions } from '../store.js';
import { type ConformanceContext, expectGafferError, fixture, later } from './helpers.js';

const CUSTOM: Partial<StoreOptions> = {
  leaseMs: 5_000,
  staleAfterMs: 10_000,
  maxAttempts: 5,
  manualRetryLimit: 1,
};

/** StoreOptions change the defaults a store applies. One extra store for all of them (opening one is slow). */
export function optionsTests(ctx: ConformanceContext): void {
  describe('custom store options', () => {
    let custom: Store | undefined;
    let openError: unknown;
    const store = () => {
      if (!custom)
        throw new Error(`the custom-options store did not open: ${String(openError)}`, { cause: openError });
      return custom;
    };

    beforeAll(async () => {
      try {
        custom = await ctx.makeStore(CUSTOM);
      } catch (err) {
        openError = err;
      }
    });

    afterAll(async () => {
      if (custom) await ctx.dropStore(custom);
    });

    it('reports the options it was opened with', () => {
      expect(store().options).toMatchObject(CUSTOM);
    });

    it('gives tasks that name no max attempts the store’s default', async () => {
      const fx = fixture(store());
      expect((await fx.create()).maxAttempts).toBe(5);
      expect((await fx.create({ maxAttempts: 2 })).maxAttempts).toBe(2);
    });

    it('leases claims for leaseMs by default', async () => {
      const fx = fixture(store());
      const before = Date.now();
      const { task } = await fx.running();
      expect(task.leaseExpiresAt!.getTime()).toBeGreaterThanOrEqual(before + 5_000 - 2_000);
      expect(task.leaseExpiresAt!.getTime()).toBeLessThanOrEqual(Date.now() + 5_000 + 2_000);
      await store().rescueLeases({ now: later(3_000) });
      expect((await store().getTask(task.id)).status).toBe('running');
      await store().rescueLeases({ now: later(6_000) });
      expect((await store().getTask(task.id)).status).toBe('retrying');
    });

    it('marks workers stale after staleAfterMs', async () => {
      const fx = fixture(store());
      const worker = await fx.worker();
      expect(await store().markStaleWorkers({ now: later(7_000) })).not.toContain(worker.id);
      expect(await store().markStaleWorkers({ now: later(11_000) })).toContain(worker.id);
      await expectGafferError(fx.claim(worker.id), 'worker_not_live');
    });

    it('enforces manualRetryLimit', async () => {
      const fx = fixture(store());
      const { task, worker } = await fx.failed();
      await store().retryTask({ taskId: task.id, by: 'ops' });
      const run = await fx.claimOne(worker.id, { now: later(2_000), expectId: task.id });
      expect((await fx.fail(run, 'again', { retryable: false })).status).toBe('failed');
      await expectGafferError(store().retryTask({ taskId: task.id, by: 'ops' }), 'retry_limit');
      expect((await store().getTask(task.id)).manualRetries).toBe(1);
    });
  });
}
