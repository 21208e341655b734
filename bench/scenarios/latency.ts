import { percentile } from '../lib/stats.js';
import { now, type Sample, sleep } from '../lib/types.js';
import type { WorkerHandle } from '../lib/worker-handle.js';
import type { Producer } from '../systems/driver.js';
import { awaitCompleted, type ScenarioContext, withProducer, withWorker } from './context.js';

/** How long a started worker sits idle before the first create. */
const IDLE_MS = 500;
const TIMEOUT_MS = 120_000;
/** Creates in flight at most in `mixed`; the producer waits beyond this (its offered rate then drops). */
const MAX_INFLIGHT = 50;

/**
 * The pickup probe on a started worker: it sits idle IDLE_MS, then tasks are created one at a
 * time, `gap` ms apart; latency from just before each create call to the start of its handler.
 */
export async function probePickup(
  producer: Producer,
  worker: WorkerHandle,
  total: number,
  gap: number,
): Promise<{ p50: number; p99: number }> {
  await sleep(IDLE_MS);
  await worker.latencies();
  const start = now();
  for (let i = 0; i < total; i++) {
    await producer.one({ i, t: now() });
    await sleep(start + (i + 1) * gap - now());
  }
  await worker.handled(total, TIMEOUT_MS);
  const lat = await worker.latencies();
  if (lat.length !== total) throw new Error(`${lat.length} latencies recorded for ${total} tasks`);
  return { p50: percentile(lat, 50), p99: percentile(lat, 99) };
}

/** pickup: an idle worker on an empty store; the pickup probe. */
export async function pickup(ctx: ScenarioContext): Promise<Sample> {
  const { pickupTotal: total, pickupGapMs: gap } = ctx.cfg;
  await ctx.driver.reset();
  return withProducer(ctx, (producer) =>
    withWorker(ctx, async (worker) => {
      await worker.go();
      const { p50, p99 } = await probePickup(producer, worker, total, gap);
      return { pickup_p50: p50, pickup_p99: p99 };
    }),
  );
}

/**
 * mixed: a steady producer (single creates at `mixedRate` per second, issued
 * every 10 ms without waiting for earlier ones, at most MAX_INFLIGHT at once)
 * while the worker runs. Sustained rate = tasks / (first create to last durable
 * completion); p99 of pickup.
 */
export async function mixed(ctx: ScenarioContext): Promise<Sample> {
  const { mixedRate: rate, mixedSeconds: seconds } = ctx.cfg;
  const tick = 10;
  const perTick = Math.max(1, Math.round((rate * tick) / 1000));
  const ticks = Math.round((seconds * 1000) / tick);
  const total = perTick * ticks;
  await ctx.driver.reset();
  return withProducer(ctx, (producer) =>
    withWorker(ctx, async (worker) => {
      await worker.go();
      await sleep(IDLE_MS);
      const pending = new Set<Promise<void>>();
      const errors: unknown[] = [];
      const start = now();
      let i = 0;
      for (let k = 0; k < ticks; k++) {
        for (let j = 0; j < perTick; j++) {
          // A producer that falls behind waits rather than piling up requests without bound.
          while (pending.size >= MAX_INFLIGHT) await Promise.race(pending);
          const p: Promise<void> = producer
            .one({ i: i++, t: now() })
            .catch((e: unknown) => void errors.push(e))
            .finally(() => pending.delete(p));
          pending.add(p);
        }
        await sleep(start + (k + 1) * tick - now());
      }
      await Promise.all(pending);
      if (errors.length > 0) throw new Error(`${errors.length} creates failed, first: ${String(errors[0])}`);
      await worker.handled(total, TIMEOUT_MS);
      const end = await awaitCompleted(producer, total, TIMEOUT_MS);
      const lat = await worker.latencies();
      return { mixed_rate: (total * 1000) / (end - start), mixed_p99: percentile(lat, 99) };
    }),
  );
}
