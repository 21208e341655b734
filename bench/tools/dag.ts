/**
 * The `dag` scenario (issue 15): N sessions of 20 tasks in a diamond (task 0, then 18 tasks after it,
 * then task 19 after all 18), drained by one Worker (DirectTransport, concurrency 50) on PostgreSQL.
 * Reports the time from the first create to the last completion, and the database's CPU per task
 * (its backends' schedstat, the figure machine load moves least). Gaffer only.
 *
 *   npx tsx bench/tools/dag.ts [sessions=1000]
 */
import { silentLogger } from '../../src/engine/logger.js';
import { openPostgresStore } from '../../src/store/index.js';
import { DirectTransport } from '../../src/worker/direct-transport.js';
import { Worker } from '../../src/worker/worker.js';
import { CpuMeter } from '../lib/cpu.js';
import { backendPids, dropDatabase, recreateDatabase } from '../lib/pg.js';

const sessions = Number(process.argv[2] ?? 1000);
const WIDTH = 18;
const base = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const database = 'bench_dag';
const url = await recreateDatabase(base, database);
const store = await openPostgresStore({ connectionString: url });
const total = sessions * (WIDTH + 2);
let done = 0;
let finished: () => void = () => {};
const allDone = new Promise<void>((r) => {
  finished = r;
});
const worker = new Worker({
  transport: new DirectTransport(store),
  concurrency: 50,
  logger: silentLogger,
}).handle('dag.step', {
  handler: async () => {
    if (++done === total) setImmediate(finished);
    return null;
  },
});
try {
  await worker.start();
  const cpu = await CpuMeter.start(() => backendPids(base, database));
  const started = performance.now();
  // Ten creators at once, as ten request handlers would.
  let next = 0;
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      while (next < sessions) {
        const i = next++;
        await store.createSession({
          id: `dag-${i}`,
          tasks: [
            { type: 'dag.step' },
            ...Array.from({ length: WIDTH }, () => ({ type: 'dag.step', after: [0] })),
            { type: 'dag.step', after: Array.from({ length: WIDTH }, (_, j) => j + 1) },
          ],
        });
      }
    }),
  );
  const created = performance.now();
  await allDone;
  const ended = performance.now();
  const storeCpuMs = await cpu.stop();
  const counts = await store.countTasks({ type: 'dag.step' });
  const out = {
    sessions,
    tasks: total,
    createMs: Math.round(created - started),
    creationToLastCompletionMs: Math.round(ended - started),
    tasksPerSecond: Math.round(total / ((ended - started) / 1000)),
    storeCpuPerTaskUs: Number(((storeCpuMs * 1000) / total).toFixed(1)),
    counts: { completed: counts.completed, waiting: counts.waiting, queued: counts.queued },
  };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
} finally {
  await worker.stop();
  await store.close();
  await dropDatabase(base, database);
}
