/**
 * The overview's reads and a retention run with nothing due, at N completed plus N queued tasks (rows
 * inserted by SQL, so the counters' triggers count them as any statement would), against the
 * count(*) queries they replaced (issue 18). Uses and then drops the schema bench_overview_scale.
 *
 *   npx tsx bench/tools/overview-scale.ts [N=500000]
 */
import { openPostgresStore } from '../../src/store/index.js';

const N = Number(process.argv[2] ?? 500000);
const url = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const store = await openPostgresStore({ connectionString: url, schema: 'bench_overview_scale' });
const db = store.db;
await db.query('truncate tasks, task_queue, task_counts');
const t0 = Date.now();
await db.query(
  `insert into tasks (id, type, queue, status, backoff, created_at, started_at, finished_at, attempt)
  select 'c' || g, 'done.type', 'default', 'completed', '{}', now(), now(), now(), 1 from generate_series(1, $1) g`,
  [N],
);
await db.query(
  `with ins as (insert into tasks (id, type, queue, status, backoff)
  select 'q' || g, 'other.type', 'default', 'queued', '{}' from generate_series(1, $1) g returning seq, queue, type, priority, run_at)
  insert into task_queue (seq, status, queue, type, priority, run_at) select seq, 'queued', queue, type, priority, run_at from ins`,
  [N],
);
await db.query('analyze');
console.log(`loaded ${2 * N} tasks in ${Date.now() - t0} ms`);
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
async function time(label: string, fn: () => Promise<unknown>, reps = 5) {
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const s = performance.now();
    await fn();
    ms.push(performance.now() - s);
  }
  console.log(
    `${label}: median ${med(ms).toFixed(1)} ms of ${reps} [${ms.map((m) => m.toFixed(1)).join(', ')}]`,
  );
}
await time('overview now: countTasks({}) + queueStats()', () =>
  Promise.all([store.countTasks({}), store.queueStats()]),
);
await time('metricsSnapshot now', () => store.metricsSnapshot());
await time('overview before: count(*) group by status (countTasks({}))', () =>
  db.query('select status, count(*) from tasks group by status'),
);
await time('overview before: queueStats query', () =>
  db.query(`select q.queue, q.status, count(*)::int as n,
  (extract(epoch from now() - min(q.run_at) filter (where q.run_at <= now())) * 1000)::float8 from task_queue q group by q.queue, q.status
  union all select t.queue, t.status, count(*)::int, null from tasks t where t.status in ('completed', 'failed', 'cancelled') group by t.queue, t.status`),
);
const cutoff = new Date(Date.now() - 7 * 24 * 3600_000);
await time(
  'retention run now, nothing due (prune, 7 days)',
  () => store.prune({ olderThanMs: 7 * 24 * 3600_000 }),
  3,
);
await time(
  'retention before, nothing due: the last batch scan',
  () =>
    db.query(
      `select t.id, t.seq from tasks t
  where t.seq > 0 and t.finished_at < $1 and t.status in ('completed', 'failed', 'cancelled')
  and (t.tracking <> 'hold' or t.entry_released_at is not null or t.key is null)
  order by t.seq limit 1000`,
      [cutoff],
    ),
  3,
);
await db.query('drop schema bench_overview_scale cascade');
await store.close();
