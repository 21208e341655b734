/**
 * What a claim of type B reads with N tasks of type A waiting: rows of task_queue read per claim
 * (pg_stat_xact_user_tables, exact and independent of machine load) and claim latency, for the
 * claim of migration 0005 and, on the same database, the claim of migration 0004 (its index and
 * function body recreated under another name).
 *
 *   npx tsx bench/tools/claim-backlog.ts [backlog=200000] [claims=60]
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { openPostgresStore } from '../../src/store/index.js';
import { dropDatabase, recreateDatabase } from '../lib/pg.js';
import { percentile } from '../lib/stats.js';

const [backlog = 200_000, claims = 60] = process.argv.slice(2, 4).map(Number);
const base = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const url = await recreateDatabase(base, 'bench_claim_backlog');
const store = await openPostgresStore({ connectionString: url });
const db = new pg.Client({ connectionString: url });
await db.connect();
await db.query('set search_path = gaffer');
const READ = `select coalesce(idx_tup_fetch, 0) + coalesce(seq_tup_read, 0) as n
  from pg_stat_xact_user_tables where relname = 'task_queue' and schemaname = 'gaffer'`;
try {
  for (let i = 0; i < backlog; i += 10_000) {
    const n = Math.min(10_000, backlog - i);
    await store.createTasks({ tasks: Array.from({ length: n }, () => ({ type: 'A', payload: {} })) });
  }
  await db.query('vacuum analyze task_queue');
  const w = await store.registerWorker({ machineId: 'm', types: ['B'], concurrency: 1, labels: {} });
  const measure = async (fn: string, queues: string) => {
    const ms: number[] = [];
    const rows: number[] = [];
    for (let i = 0; i < claims; i++) {
      await store.createTasks({ tasks: [{ type: 'B', payload: {} }] });
      await db.query('begin');
      const before = Number((await db.query(READ)).rows[0].n);
      const t0 = performance.now();
      const r = await db.query(
        `select * from ${fn}($1, null, 60000, 30000, array['B'], ${queues}, 10, null, null)`,
        [w.id],
      );
      ms.push(performance.now() - t0);
      rows.push(Number((await db.query(READ)).rows[0].n) - before);
      await db.query('commit');
      if (r.rows.length !== 1) throw new Error(`${fn} claimed ${r.rows.length} tasks, not 1`);
      await store.completeTasks([{ taskId: r.rows[0].id, attempt: r.rows[0].attempt, result: null }]);
    }
    return { rows_read_p50: percentile(rows, 50), ms_p50: percentile(ms, 50), ms_p99: percentile(ms, 99) };
  };
  const v5 = await measure('claim_tasks', "array['default']");
  const v5AnyQueue = await measure('claim_tasks', 'null');
  // The version 4 claim: its index, and its function body under another name.
  const v4sql = readFileSync(
    new URL('../../src/store/migrations/0004_hot_path.sql', import.meta.url),
    'utf8',
  );
  const at = v4sql.indexOf('create function claim_tasks(');
  const body = v4sql.slice(at, v4sql.indexOf('end $$;', at) + 7).replace('claim_tasks(', 'claim_tasks_v4(');
  await db.query('create index task_queue_runnable on task_queue (priority desc, run_at, seq)');
  await db.query(body);
  const v4 = await measure('claim_tasks_v4', "array['default']");
  console.log(JSON.stringify({ backlog, claims, v5, v5_no_queues: v5AnyQueue, v4 }, null, 2));
} finally {
  await db.end();
  await store.close();
  await dropDatabase(base, 'bench_claim_backlog');
}
