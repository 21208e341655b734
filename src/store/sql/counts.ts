import type { Queryable } from '../db.js';
import type { QueueStat, TaskFilter } from '../types.js';

/**
 * Reads of the task counters (migration 0006): task_counts holds, per queue, type, status and
 * database connection, what the statements of that connection added; a count is their sum. Every
 * statement that changes tasks adds to them in its own transaction, so they are exact, and these
 * reads cost the same whatever the number of tasks.
 */

export const STATUSES = [
  'waiting',
  'queued',
  'running',
  'retrying',
  'completed',
  'failed',
  'cancelled',
] as const;

/** The filters the counters answer: status, type and queue, nothing else. */
export function countable(f: TaskFilter): boolean {
  return Object.entries(f).every(
    ([k, v]) => v === undefined || k === 'status' || k === 'type' || k === 'queue' || k === 'liveWithinMs',
  );
}

function list<T>(v: T | T[] | undefined): T[] | null {
  if (v === undefined) return null;
  return Array.isArray(v) ? v : [v];
}

export function emptyCounts(): Record<string, number> {
  const out: Record<string, number> = { total: 0 };
  for (const s of STATUSES) out[s] = 0;
  return out;
}

/** countTasks for a filter `countable` accepts. */
export async function countFromCounters(db: Queryable, f: TaskFilter): Promise<Record<string, number>> {
  const res = await db.query<{ status: string; n: string | number }>(
    `select c.status, sum(c.n) as n from task_counts c
     where ($1::text[] is null or c.status = any($1::text[]))
       and ($2::text[] is null or c.type = any($2::text[]))
       and ($3::text[] is null or c.queue = any($3::text[]))
     group by c.status`,
    [list(f.status), list(f.type), list(f.queue)],
  );
  const out = emptyCounts();
  for (const r of res.rows) {
    const n = Number(r.n);
    out[r.status] = n;
    out.total = (out.total ?? 0) + n;
  }
  return out;
}

export interface RunnableCount {
  queue: string;
  type: string;
  status: 'queued' | 'retrying';
  count: number;
  /** Of `count`, the tasks whose run-at is still to come. */
  later: number;
  /** Age of the oldest of them whose run-at passed; null if none has. */
  oldestAgeMs: number | null;
}

/**
 * The runnable counts per queue, type and status, with the tasks of each scheduled for later and
 * the age of the oldest that may run now: one index probe (task_queue_counts) per count, plus the
 * entries past now, so the cost follows the number of counts and of tasks scheduled for later,
 * never the backlog waiting now.
 */
const RUNNABLE = `
with clock as (select coalesce($1::timestamptz, now()) as now),
k as (
  select c.queue, c.type, c.status, sum(c.n) as n from task_counts c
  where c.status in ('queued', 'retrying') group by c.queue, c.type, c.status having sum(c.n) > 0)
select k.queue, k.type, k.status, k.n::int as count, p.later, p.oldest_ms
from k, clock, lateral (
  select
    (select count(*)::int from task_queue q
      where q.queue = k.queue and q.type = k.type and q.status = k.status and q.run_at > clock.now) as later,
    (select (extract(epoch from clock.now - min(q.run_at)) * 1000)::float8 from task_queue q
      where q.queue = k.queue and q.type = k.type and q.status = k.status) as oldest_ms) p`;

export async function runnableCounts(db: Queryable, now: Date | null): Promise<RunnableCount[]> {
  const res = await db.query<{
    queue: string;
    type: string;
    status: 'queued' | 'retrying';
    count: number;
    later: number;
    oldest_ms: number | null;
  }>(RUNNABLE, [now]);
  return res.rows.map((r) => ({
    queue: r.queue,
    type: r.type,
    status: r.status,
    count: r.count,
    later: r.later,
    // The oldest entry is in the future when every task of the count is scheduled for later.
    oldestAgeMs: r.oldest_ms === null || r.later >= r.count ? null : Math.max(0, Math.round(r.oldest_ms)),
  }));
}

/** Counts per queue and status of the statuses the runnable probe does not cover. */
export async function countsByQueue(
  db: Queryable,
  statuses: readonly string[],
): Promise<Array<{ queue: string; type: string; status: string; count: number }>> {
  const res = await db.query<{ queue: string; type: string; status: string; n: string | number }>(
    `select c.queue, c.type, c.status, sum(c.n) as n from task_counts c where c.status = any($1::text[])
     group by c.queue, c.type, c.status having sum(c.n) > 0`,
    [statuses],
  );
  return res.rows.map((r) => ({ queue: r.queue, type: r.type, status: r.status, count: Number(r.n) }));
}

/**
 * Counts per queue and status, and the age of each queue's oldest runnable task (per status), from
 * the counters and one index probe per count: the overview at any table size.
 */
export async function queueStats(db: Queryable): Promise<QueueStat[]> {
  const [runnable, rest] = await Promise.all([
    runnableCounts(db, null),
    countsByQueue(db, ['waiting', 'running', 'completed', 'failed', 'cancelled']),
  ]);
  const out = new Map<string, QueueStat>();
  const add = (queue: string, status: QueueStat['status'], count: number, oldest: number | null) => {
    const key = `${queue}\u0000${status}`;
    const s = out.get(key);
    if (!s) {
      out.set(key, { queue, status, count, oldestAgeMs: oldest });
      return;
    }
    s.count += count;
    if (oldest !== null) s.oldestAgeMs = Math.max(s.oldestAgeMs ?? 0, oldest);
  };
  for (const r of runnable) add(r.queue, r.status, r.count, r.oldestAgeMs);
  for (const r of rest) add(r.queue, r.status as QueueStat['status'], r.count, null);
  return [...out.values()];
}

/** Folds the counter rows of database connections that are gone (migration 0006); returns how many. */
export async function foldCounts(db: Queryable): Promise<number> {
  const res = await db.query<{ n: number }>('select fold_task_counts() as n');
  return res.rows[0]?.n ?? 0;
}
