/**
 * Where Gaffer's pickup latency goes: an idle worker in this process, tasks created one at a time;
 * prints percentiles of the create call, create-return to handler start, and the claim query
 * that found the task.
 *
 *   npx tsx bench/tools/pickup-breakdown.ts [tasks=200] [gap ms=20]
 */
import { GafferClient } from '../../src/client/client.js';
import { silentLogger } from '../../src/engine/logger.js';
import { openPostgresStore } from '../../src/store/index.js';
import type { ClaimTasksParams } from '../../src/store/types.js';
import { DirectTransport } from '../../src/worker/direct-transport.js';
import { Worker } from '../../src/worker/worker.js';
import { recreateDatabase } from '../lib/pg.js';
import { percentile } from '../lib/stats.js';
import { now, sleep } from '../lib/types.js';

const [total = 200, gap = 20] = process.argv.slice(2, 4).map(Number);
const url = await recreateDatabase(
  process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  'bench_pickup_breakdown',
);
const producerStore = await openPostgresStore({ connectionString: url });
const workerStore = await openPostgresStore({ connectionString: url, migrate: false });

const claimMs: number[] = [];
const claim = workerStore.claimTasks.bind(workerStore);
workerStore.claimTasks = async (p: ClaimTasksParams) => {
  const t0 = now();
  const tasks = await claim(p);
  if (tasks.length > 0) claimMs.push(now() - t0);
  return tasks;
};

const started = new Map<number, number>();
const worker = new Worker({
  transport: new DirectTransport(workerStore),
  concurrency: 50,
  prefetch: 950,
  logger: silentLogger,
});
worker.handle('noop', (p: { i: number }) => void started.set(p.i, now()));
await worker.start();
await sleep(500);

const client = new GafferClient(producerStore);
const create: number[] = [];
const handoff: number[] = [];
const pickup: number[] = [];
for (let i = 0; i < total; i++) {
  const t0 = now();
  await client.enqueue('noop', { i });
  const t1 = now();
  await sleep(gap);
  for (let w = 0; !started.has(i); w++) {
    if (w % 1000 === 999) console.error(`task ${i} not started after ${w + 1} ms`);
    await sleep(1);
  }
  create.push(t1 - t0);
  handoff.push(started.get(i)! - t1);
  pickup.push(started.get(i)! - t0);
}
await worker.stop();
await workerStore.close();
await producerStore.close();

const row = (name: string, xs: number[]) =>
  console.log(
    `${name.padEnd(22)} ${[50, 90, 99].map((p) => percentile(xs, p).toFixed(2).padStart(7)).join(' ')}`,
  );
console.log(`${total} tasks, ${gap} ms apart; ms at p50 / p90 / p99:`);
row('create call', create);
row('create return → handler', handoff);
row('claim query (found it)', claimMs);
row('pickup (create → handler)', pickup);
