import { now, type Sample } from '../lib/types.js';
import type { FlowOps } from '../systems/driver.js';
import { awaitCompleted, type ScenarioContext, withProducer, withWorker } from './context.js';

const TIMEOUT_MS = 180_000;
const KEYS = 1000;
const QUEUE_LIMIT = 20;
const RATE = 500;

async function withFlow<T>(ctx: ScenarioContext, fn: (flow: FlowOps) => Promise<T>): Promise<T> {
  await ctx.driver.reset();
  const flow = await ctx.driver.flow!();
  try {
    return await fn(flow);
  } finally {
    await flow.close();
  }
}

/** Creates `total` tasks in bulk calls of 1000, task i on concurrency key i mod KEYS. */
async function createKeyed(flow: FlowOps, total: number): Promise<void> {
  for (let done = 0; done < total; done += 1000) {
    const n = Math.min(1000, total - done);
    await flow.bulkKeyed(
      Array.from({ length: n }, (_, k) => ({ i: done + k })),
      (i) => `k${(done + i) % KEYS}`,
    );
  }
}

/**
 * drain_limited: `drainTotal` tasks over 1,000 concurrency keys, at most 1 running per key and 20 in
 * the queue, drained by one worker process (concurrency and prefetch as in `drain`, so the limits, not
 * the worker, hold it back). Throughput as in `drain`; afterwards the moments tasks started and
 * stopped running (a row trigger's log, bench/systems/gaffer.ts) say whether the limits held: the
 * peak running at once (must be ≤ 20) and the pairs of one key that overlapped (must be 0).
 */
export async function drainLimited(ctx: ScenarioContext): Promise<Sample> {
  const total = ctx.cfg.drainTotal;
  return withFlow(ctx, async (flow) => {
    await flow.setLimits({ concurrency: QUEUE_LIMIT, keyConcurrency: 1 });
    return withProducer(ctx, async (producer) => {
      await createKeyed(flow, total);
      return withWorker(ctx, async (worker) => {
        const t0 = now();
        await worker.go();
        await worker.handled(total, TIMEOUT_MS);
        const t1 = await awaitCompleted(producer, total, TIMEOUT_MS);
        const { peak, keyOverlaps } = await flow.overlap();
        return {
          drain_limited: (total * 1000) / (t1 - t0),
          drain_limited_peak: peak,
          drain_limited_key_overlaps: keyOverlaps,
        };
      });
    });
  });
}

/** The most starts in any window of `windowMs` (sliding, from each start). */
export function maxInWindow(starts: readonly number[], windowMs: number): number {
  let max = 0;
  for (let lo = 0, hi = 0; lo < starts.length; lo++) {
    while (hi < starts.length && starts[hi]! < starts[lo]! + windowMs) hi++;
    max = Math.max(max, hi - lo);
  }
  return max;
}

/**
 * The rate over whole seconds from the first start: starts in [first, first + s) / s, s the whole
 * seconds the run spanned. A limit of N per second lets N start at once, then N more a second later;
 * dividing all starts by the span would count the first burst against a shorter time.
 */
export function achievedRate(starts: readonly number[]): number {
  const first = starts[0]!;
  const seconds = Math.floor((starts[starts.length - 1]! - first) / 1000);
  if (seconds < 1) return Number.NaN;
  return starts.filter((t) => t < first + seconds * 1000).length / seconds;
}

/**
 * rate_limited: a limit of 500 starts per second on the queue; a backlog of 500 × (seconds + 1) tasks
 * drained by one worker process. Reports the achieved rate (target: within 5 % of 500) and the most
 * starts in any sliding second (target: never above 500), both from the tasks' start times.
 */
export async function rateLimited(ctx: ScenarioContext): Promise<Sample> {
  const seconds = ctx.cfg.quick ? 3 : 6;
  const total = RATE * (seconds + 1);
  return withFlow(ctx, async (flow) => {
    await flow.setLimits({ rate: { limit: RATE, intervalMs: 1000 } });
    return withProducer(ctx, async (producer) => {
      await createKeyed(flow, total);
      return withWorker(ctx, async (worker) => {
        await worker.go();
        await worker.handled(total, TIMEOUT_MS);
        await awaitCompleted(producer, total, TIMEOUT_MS);
        const starts = await flow.startTimes();
        return {
          rate_limited_rate: achievedRate(starts),
          rate_limited_max_second: maxInWindow(starts, 1000),
        };
      });
    });
  });
}
