import { now, type Sample } from '../lib/types.js';
import { createInBulk, type ScenarioContext, withProducer } from './context.js';

/** A few creates before the clock starts: connections open, statements prepared, JIT warm. */
const WARMUP = 20;

/** bulk_enqueue: `bulkTotal` tasks in bulk calls of `bulkBatch`, one after another. */
export async function bulkEnqueue(ctx: ScenarioContext): Promise<Sample> {
  const { bulkTotal, bulkBatch } = ctx.cfg;
  await ctx.driver.reset();
  return withProducer(ctx, async (producer) => {
    await createInBulk(producer, WARMUP, WARMUP);
    const t0 = now();
    await createInBulk(producer, bulkTotal, bulkBatch, WARMUP);
    return { bulk_enqueue: (bulkTotal * 1000) / (now() - t0) };
  });
}

/** single_enqueue: `singleTotal` creates, each awaited before the next. */
export async function singleEnqueue(ctx: ScenarioContext): Promise<Sample> {
  const total = ctx.cfg.singleTotal;
  await ctx.driver.reset();
  return withProducer(ctx, async (producer) => {
    for (let i = 0; i < WARMUP; i++) await producer.one({ i });
    const t0 = now();
    for (let i = 0; i < total; i++) await producer.one({ i: WARMUP + i });
    return { single_enqueue: (total * 1000) / (now() - t0) };
  });
}
