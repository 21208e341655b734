import { CpuMeter } from '../lib/cpu.js';
import { now, type Sample } from '../lib/types.js';
import { awaitCompleted, type ScenarioContext, withProducer, withWorker } from './context.js';

const TIMEOUT_MS = 300_000;
/** A diamond of 20: task 0, then 18 tasks after it, then task 19 after all 18. */
const WIDTH = 18;
const SIZE = WIDTH + 2;
/** Creators at once, as that many request handlers would. */
const CREATORS = 10;

/**
 * dag (issue 15): `drainTotal` / 20 sessions of 20 tasks in a diamond, created by ten concurrent
 * callers while one worker process (as in `drain`) runs them. The clock runs from the first create to
 * the last durable completion, so it covers the dependency releases, not only the claims; the
 * database's CPU per task is read over the same window.
 */
export async function dag(ctx: ScenarioContext): Promise<Sample> {
  const sessions = Math.max(1, Math.floor(ctx.cfg.drainTotal / SIZE));
  const total = sessions * SIZE;
  await ctx.driver.reset();
  const ops = await ctx.driver.dag!();
  try {
    return await withProducer(ctx, (producer) =>
      withWorker(ctx, async (worker) => {
        await worker.go();
        const storeCpu = await CpuMeter.start(() => ctx.driver.storePids?.() ?? Promise.resolve([]));
        const t0 = now();
        let next = 0;
        await Promise.all(
          Array.from({ length: CREATORS }, async () => {
            while (next < sessions) await ops.createDiamond(next++, WIDTH);
          }),
        );
        await worker.handled(total, TIMEOUT_MS);
        const t1 = await awaitCompleted(producer, total, TIMEOUT_MS);
        return {
          dag_ms: t1 - t0,
          dag_cpu_store: ((await storeCpu.stop()) * 1000) / total,
        };
      }),
    );
  } finally {
    await ops.close();
  }
}
