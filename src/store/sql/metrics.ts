import type { Queryable } from '../db.js';
import type { MetricsSnapshot } from '../observability.js';
import { RUNNING_TASKS } from './running.js';

/**
 * Everything behind the gauges and the alert rules, in one statement, so a
 * scrape costs one round trip and every server node reads the same numbers.
 * Runnable tasks are counted in the queue (task_queue), running ones through the
 * claims, dead letters among the tasks that ever failed an attempt (tasks_errored);
 * completed and cancelled rows grow with history and are not read.
 */
const SNAPSHOT = `
with clock as (select coalesce($1::timestamptz, now()) as now)
select (select now from clock) as at,
  (select coalesce(json_agg(d), '[]') from (
    select q.queue, q.status, count(*)::int as count from task_queue q group by q.queue, q.status
    union all
    select t.queue, t.status, count(*)::int from ${RUNNING_TASKS} group by t.queue, t.status
  ) d) as depth,
  (select coalesce(json_agg(w), '[]') from (
    select q.queue, q.type, count(*)::int as count,
      (extract(epoch from (select now from clock) - min(q.run_at)) * 1000)::float8 as "oldestAgeMs"
    from task_queue q
    where q.run_at <= (select now from clock)
    group by q.queue, q.type
  ) w) as waiting,
  (select coalesce(json_agg(f), '[]') from (
    select t.queue, t.type, count(*)::int as count from tasks t
    where t.error is not null and t.status = 'failed' group by t.queue, t.type
  ) f) as dead_letters,
  (select coalesce(json_agg(l), '[]') from (
    select w.id, w.machine_id as "machineId", w.types, w.queues,
      (w.stats ->> 'processed')::float8 as processed, (w.stats ->> 'failed')::float8 as failed,
      w.stats ->> 'startedAt' as "startedAt"
    from workers w
    where w.stale_at is null
      and w.last_heartbeat_at > (select now from clock) - make_interval(secs => $2::int / 1000.0)
  ) l) as live_workers,
  (select count(*)::int from workers w
    where w.stale_at is not null
      or w.last_heartbeat_at <= (select now from clock) - make_interval(secs => $2::int / 1000.0)) as stale_workers`;

interface SnapshotRow {
  at: Date | string;
  depth: unknown;
  waiting: unknown;
  dead_letters: unknown;
  live_workers: unknown;
  stale_workers: number;
}

/** json_agg arrives parsed from pg and PGlite alike; parse only if a driver hands back text. */
function json<T>(v: unknown): T {
  return (typeof v === 'string' ? JSON.parse(v) : v) as T;
}

export async function metricsSnapshot(
  db: Queryable,
  now: Date | null,
  staleAfterMs: number,
): Promise<MetricsSnapshot> {
  const res = await db.query<SnapshotRow>(SNAPSHOT, [now, staleAfterMs]);
  const row = res.rows[0]!;
  const workers = json<
    Array<Omit<MetricsSnapshot['liveWorkers'][number], 'startedAt'> & { startedAt: string | null }>
  >(row.live_workers);
  return {
    at: row.at instanceof Date ? row.at : new Date(row.at),
    depth: json(row.depth),
    waiting: json<MetricsSnapshot['waiting']>(row.waiting).map((w) => ({
      ...w,
      oldestAgeMs: Math.max(0, Math.round(w.oldestAgeMs)),
    })),
    deadLetters: json(row.dead_letters),
    liveWorkers: workers.map((w) => {
      const started = w.startedAt ? new Date(w.startedAt) : null;
      return {
        ...w,
        types: w.types ?? [],
        queues: w.queues ?? [],
        startedAt: started && !Number.isNaN(started.getTime()) ? started : null,
      };
    }),
    staleWorkers: row.stale_workers,
  };
}
