/**
 * Dead tuples and autovacuum while a worker drains a big backlog (issue 18: "measure dead tuples and
 * autovacuum behaviour during a 1M drain"). Seeds N tasks through the SDK, drains them with one
 * Worker (DirectTransport, concurrency 50, prefetch 950, the bench's settings), and samples
 * pg_stat_user_tables of the Gaffer tables every second: live and dead tuples, autovacuum and
 * autoanalyze runs, and table size (heap + indexes + TOAST). Counts, not timings: they hold on a
 * loaded machine too (the drain takes longer, so autovacuum gets more chances, if anything).
 *
 *   npx tsx bench/tools/drain-vacuum.ts [tasks=1000000]
 */
import pg from 'pg';
import { GafferClient } from '../../src/client/client.js';
import { silentLogger } from '../../src/engine/logger.js';
import { openPostgresStore } from '../../src/store/index.js';
import { DirectTransport } from '../../src/worker/direct-transport.js';
import { Worker } from '../../src/worker/worker.js';
import { dropDatabase, recreateDatabase } from '../lib/pg.js';

const [tasks = 1_000_000] = process.argv.slice(2, 3).map(Number);
const base = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const TABLES = ['tasks', 'task_queue', 'task_claims', 'task_counts', 'task_events', 'task_throughput'];

interface TableStat {
  live: number;
  dead: number;
  autovacuums: number;
  autoanalyzes: number;
  bytes: number;
}

const url = await recreateDatabase(base, 'bench_drain_vacuum');
const store = await openPostgresStore({ connectionString: url });
const side = new pg.Client({ connectionString: url, application_name: 'gaffer-bench-stat' });
await side.connect();

async function stats(): Promise<Record<string, TableStat>> {
  const res = await side.query<{ relname: string } & Record<string, string>>(
    `select relname, n_live_tup as live, n_dead_tup as dead, autovacuum_count as autovacuums,
            autoanalyze_count as autoanalyzes, pg_total_relation_size(relid) as bytes
       from pg_stat_user_tables where schemaname = 'gaffer' and relname = any($1)`,
    [TABLES],
  );
  return Object.fromEntries(
    res.rows.map((r) => [
      r.relname,
      {
        live: Number(r.live),
        dead: Number(r.dead),
        autovacuums: Number(r.autovacuums),
        autoanalyzes: Number(r.autoanalyzes),
        bytes: Number(r.bytes),
      },
    ]),
  );
}

const mb = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MB`;
try {
  const client = new GafferClient(store);
  const t0 = performance.now();
  for (let i = 0; i < tasks; i += 5000) {
    const n = Math.min(5000, tasks - i);
    await client.enqueueMany(Array.from({ length: n }, (_, k) => ({ type: 'drain', payload: { i: i + k } })));
  }
  console.log(
    `seeded ${tasks.toLocaleString('en-US')} tasks in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  const before = await stats();

  const worker = new Worker({
    transport: new DirectTransport(await openPostgresStore({ connectionString: url, migrate: false }), {
      ownsStore: true,
    }),
    concurrency: 50,
    prefetch: 950,
    logger: silentLogger,
  });
  worker.handle('drain', async () => null);
  const samples: { s: number; stat: Record<string, TableStat> }[] = [];
  const d0 = performance.now();
  await worker.start();
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000));
    const stat = await stats();
    samples.push({ s: (performance.now() - d0) / 1000, stat });
    // From the counters (cheap at any size), not a count(*) that would itself scan the backlog.
    const left = tasks - ((await store.countTasks({ status: 'completed' })).completed ?? 0);
    if (left === 0) break;
    if (samples.length % 15 === 0)
      console.log(`  ${samples.at(-1)!.s.toFixed(0)} s: ${left.toLocaleString('en-US')} left`);
  }
  const drainS = (performance.now() - d0) / 1000;
  await worker.stop();
  const after = await stats();

  console.log(
    `drained in ${drainS.toFixed(1)} s (${Math.round(tasks / drainS).toLocaleString('en-US')} tasks/s), ${samples.length} samples`,
  );
  console.log('table          max dead   dead at end  autovacuums  autoanalyzes  size before → after');
  for (const t of TABLES) {
    const b = before[t];
    const a = after[t];
    if (!b || !a) continue;
    const maxDead = Math.max(...samples.map((x) => x.stat[t]?.dead ?? 0));
    console.log(
      `${t.padEnd(14)} ${String(maxDead).padStart(9)} ${String(a.dead).padStart(12)} ${String(a.autovacuums - b.autovacuums).padStart(12)} ${String(a.autoanalyzes - b.autoanalyzes).padStart(13)}  ${mb(b.bytes)} → ${mb(a.bytes)}`,
    );
  }
} finally {
  await side.end();
  await store.close();
  await dropDatabase(base, 'bench_drain_vacuum');
}
