import type { BenchConfig } from '../lib/types.js';
import { now, sleep } from '../lib/types.js';
import type { WorkerHandle } from '../lib/worker-handle.js';
import type { Producer, SystemDriver } from '../systems/driver.js';

export interface ScenarioContext {
  cfg: BenchConfig;
  driver: SystemDriver;
  /** A prepared, not yet started worker: in a child process, or in process for embedded stores. */
  makeWorker(): Promise<WorkerHandle>;
  /** n workers in one child process, each holding one waiting claim (systems with a fleet). */
  makeFleet?(n: number): Promise<WorkerHandle>;
}

/** Creates `total` tasks in bulk calls of `batch`, numbering payloads from `from`. */
export async function createInBulk(
  producer: Producer,
  total: number,
  batch: number,
  from = 0,
): Promise<void> {
  for (let done = 0; done < total; done += batch) {
    const n = Math.min(batch, total - done);
    await producer.bulk(Array.from({ length: n }, (_, k) => ({ i: from + done + k })));
  }
}

/**
 * Waits until `n` completions are durable, polling the store every 2 ms, and
 * returns the time the count was first seen. Throws if it overshoots or stalls.
 */
export async function awaitCompleted(producer: Producer, n: number, timeoutMs: number): Promise<number> {
  const deadline = now() + timeoutMs;
  for (;;) {
    const done = await producer.completed();
    const at = now();
    if (done === n) return at;
    if (done > n) throw new Error(`${done} completions recorded, expected ${n}`);
    if (at > deadline)
      throw new Error(`only ${done} of ${n} completions were durable within ${timeoutMs} ms`);
    await sleep(2);
  }
}

/** Runs fn with a prepared worker and always closes it. */
export async function withWorker<T>(ctx: ScenarioContext, fn: (w: WorkerHandle) => Promise<T>): Promise<T> {
  const worker = await ctx.makeWorker();
  try {
    return await fn(worker);
  } finally {
    await worker.close();
  }
}

/** Runs fn with a producer and always closes it. */
export async function withProducer<T>(ctx: ScenarioContext, fn: (p: Producer) => Promise<T>): Promise<T> {
  const producer = await ctx.driver.producer();
  try {
    return await fn(producer);
  } finally {
    await producer.close();
  }
}
