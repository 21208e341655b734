import { CpuMeter } from '../lib/cpu.js';
import { now, type Sample } from '../lib/types.js';
import { awaitCompleted, createInBulk, type ScenarioContext, withProducer, withWorker } from './context.js';

const TIMEOUT_MS = 180_000;

/**
 * drain: `drainTotal` tasks created first; one worker process starts and the
 * clock runs from its start to the last durable completion, read from the store.
 */
export async function drain(ctx: ScenarioContext): Promise<Sample> {
  const total = ctx.cfg.drainTotal;
  await ctx.driver.reset();
  return withProducer(ctx, async (producer) => {
    await createInBulk(producer, total, 1000);
    return withWorker(ctx, async (worker) => {
      const workerCpu = await CpuMeter.start(async () => [worker.pid]);
      const storeCpu = await CpuMeter.start(() => ctx.driver.storePids?.() ?? Promise.resolve([]));
      const t0 = now();
      await worker.go();
      await worker.handled(total, TIMEOUT_MS);
      const t1 = await awaitCompleted(producer, total, TIMEOUT_MS);
      const us = (ms: number) => (ms * 1000) / total;
      return {
        drain: (total * 1000) / (t1 - t0),
        drain_cpu_worker: us(await workerCpu.stop()),
        drain_cpu_store: us(await storeCpu.stop()),
      };
    });
  });
}
