/**
 * What Gaffer's own create, claim and complete SQL costs per task, measured where noise does not
 * reach: PostgreSQL backend CPU (from /proc/<pid>/schedstat of the one pooled connection), this
 * process's CPU, and WAL bytes, plus wall time. A fresh database per rep.
 *
 *   npx tsx bench/tools/sql-cost.ts [tasks=20000] [claim batch=1000] [reps=3] [analyze]
 *
 * BENCH_PERF_PAUSE_MS=3000 prints the backend's pid and waits before the claims, so a profiler
 * can attach: perf record -g -p <pid> -- sleep 8
 *
 * BENCH_SQL_PATCH=file.sql runs that SQL (search_path: the Gaffer schema) after migrating each fresh
 * database: a way to measure a changed function or index before writing it as a migration.
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { GafferClient } from '../../src/client/client.js';
import { openPostgresStore } from '../../src/store/index.js';
import { cpuMs } from '../lib/cpu.js';
import { recreateDatabase } from '../lib/pg.js';
import { median } from '../lib/stats.js';

const [tasks = 20_000, batch = 1000, reps = 3] = process.argv.slice(2, 5).map(Number);
const analyze = process.argv.includes('analyze');
const baseUrl = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const PHASES = ['create', 'claim', 'complete'] as const;
type Phase = (typeof PHASES)[number];
type Cost = { pg: number; node: number; wall: number; wal: number };
const runs: Record<Phase, Cost[]> = { create: [], claim: [], complete: [] };

for (let rep = 0; rep < reps; rep++) {
  const url = await recreateDatabase(baseUrl, 'bench_sql_cost');
  const store = await openPostgresStore({ connectionString: url, poolSize: 1 });
  if (process.env.BENCH_SQL_PATCH) await store.db.exec(readFileSync(process.env.BENCH_SQL_PATCH, 'utf8'));
  const side = new pg.Client({ connectionString: url });
  await side.connect();
  const lsn = async () =>
    Number(
      (await side.query<{ b: string }>("select pg_current_wal_insert_lsn() - '0/0'::pg_lsn as b")).rows[0]!.b,
    );
  const pid = (await store.db.query<{ p: number }>('select pg_backend_pid() as p')).rows[0]!.p;
  const acc: Record<Phase, Cost> = {
    create: { pg: 0, node: 0, wall: 0, wal: 0 },
    claim: { pg: 0, node: 0, wall: 0, wal: 0 },
    complete: { pg: 0, node: 0, wall: 0, wal: 0 },
  };
  const time = async <T>(phase: Phase, fn: () => Promise<T>): Promise<T> => {
    const [l0, p0, n0, w0] = [await lsn(), cpuMs(pid), process.cpuUsage(), performance.now()];
    const out = await fn();
    const n = process.cpuUsage(n0);
    const a = acc[phase];
    a.wall += performance.now() - w0;
    a.pg += cpuMs(pid) - p0;
    a.node += (n.user + n.system) / 1000;
    a.wal += (await lsn()) - l0;
    return out;
  };
  const client = new GafferClient(store);
  for (let i = 0; i < tasks; i += 1000) {
    const chunk = Array.from({ length: Math.min(1000, tasks - i) }, (_, k) => ({
      type: 'noop',
      payload: { i: i + k },
    }));
    await time('create', () => client.enqueueMany(chunk));
  }
  if (analyze) await store.db.query('analyze tasks');
  const worker = await store.registerWorker({ machineId: 'sql-cost', types: ['noop'], concurrency: batch });
  const pause = Number(process.env.BENCH_PERF_PAUSE_MS ?? 0);
  if (pause > 0) {
    console.log(`backend pid ${pid}; claiming in ${pause} ms`);
    await new Promise((r) => setTimeout(r, pause));
  }
  let done = 0;
  for (;;) {
    const claimed = await time('claim', () =>
      store.claimTasks({ workerId: worker.id, types: ['noop'], limit: batch }),
    );
    if (claimed.length === 0) break;
    const items = claimed.map((t) => ({
      taskId: t.id,
      seq: t.seq,
      attempt: t.attempt,
      workerId: worker.id,
      result: null,
    }));
    done += (await time('complete', () => store.completeTasks(items))).completed.length;
  }
  if (done !== tasks) throw new Error(`completed ${done} of ${tasks}`);
  for (const p of PHASES) runs[p].push(acc[p]);
  await side.end();
  await store.close();
}

const per = (ms: number) => ((ms * 1000) / tasks).toFixed(0).padStart(5);
console.log(
  `${tasks} tasks, claims of ${batch}${analyze ? ', analyzed' : ''}; per task, median of ${reps} (backend: median / min)`,
);
console.log('phase      backend µs    node µs  wall µs  WAL bytes');
for (const p of PHASES) {
  const m = (k: keyof Cost) => median(runs[p].map((r) => r[k]));
  const least = Math.min(...runs[p].map((r) => r.pg));
  console.log(
    `${p.padEnd(9)}  ${per(m('pg'))} / ${per(least).trim().padEnd(4)}  ${per(m('node'))}    ${per(m('wall'))}    ${(m('wal') / tasks).toFixed(0)}`,
  );
}
