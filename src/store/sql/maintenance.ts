import type { Queryable } from '../db.js';
import type { PruneResult, RescueResult } from '../types.js';
import { endFailedAttempt } from './attempts.js';
import { eventSink } from './events.js';
import { rowToTask, TASK_COLUMNS, type TaskRow } from './rows.js';
import { RUNNING_TASKS } from './running.js';
import { markStale } from './workers.js';

/**
 * Running attempts (the tasks of open claims still running under them) whose lease or deadline
 * passed, or whose worker went stale or away.
 */
const EXPIRED_ATTEMPTS = `
select ${TASK_COLUMNS},
  case when t.deadline_at < coalesce($1::timestamptz, now()) then 'timeout' else 'lost' end as why,
  case when w.id is null then 'its worker is gone'
    when w.stale_at is not null then 'its worker is stale'
    when t.deadline_at < coalesce($1::timestamptz, now()) then 'the attempt ran past its timeout'
    else 'no heartbeat renewed the lease' end as reason
from ${RUNNING_TASKS} left join workers w on w.id = t.worker_id
where (t.lease_expires_at < coalesce($1::timestamptz, now())
    or t.deadline_at < coalesce($1::timestamptz, now())
    or w.id is null or w.stale_at is not null)
order by t.seq
limit $2
for update of t skip locked`;

const LAPSED_WORKERS = `
select w.id from workers w
where w.stale_at is null
  and w.last_heartbeat_at < coalesce($1::timestamptz, now()) - make_interval(secs => $2::int / 1000.0)
for update skip locked`;

/** Ends lapsed attempts; `requeued` are the tasks that got to run again (to wake their workers). */
export async function rescueLeases(
  tx: Queryable,
  now: Date | null,
  batch = 1000,
): Promise<RescueResult & { requeued: Array<{ queue: string; type: string }> }> {
  const out = {
    lost: 0,
    timedOut: 0,
    cancelled: 0,
    failed: 0,
    requeued: [] as Array<{ queue: string; type: string }>,
  };
  const res = await tx.query<TaskRow & { why: 'lost' | 'timeout'; reason: string }>(EXPIRED_ATTEMPTS, [
    now,
    batch,
  ]);
  for (const row of res.rows) {
    const task = rowToTask(row);
    const ended = await endFailedAttempt(tx, task, row.why, { message: row.reason, retryable: true }, now);
    if (row.why === 'timeout') out.timedOut++;
    else out.lost++;
    if (ended.status === 'cancelled') out.cancelled++;
    if (ended.status === 'failed') out.failed++;
    if (ended.status === 'retrying') out.requeued.push({ queue: ended.queue, type: ended.type });
  }
  return out;
}

export async function markStaleWorkers(
  tx: Queryable,
  now: Date | null,
  staleAfterMs: number,
): Promise<string[]> {
  const res = await tx.query<{ id: string }>(LAPSED_WORKERS, [now, staleAfterMs]);
  const reason = `no heartbeat for over ${Math.round(staleAfterMs / 1000)} s`;
  const marked = await markStale(
    tx,
    res.rows.map((r) => r.id),
    reason,
    now,
  );
  const sink = eventSink(tx);
  if (sink) for (const workerId of marked) sink.push({ event: 'worker_stale', workerId, reason });
  return marked;
}

/** Deletes up to `batch` rows per statement until none are left, so no statement holds many locks. */
async function inBatches(db: Queryable, sql: string, params: unknown[], batch: number): Promise<number> {
  let total = 0;
  for (;;) {
    const res = await db.query(sql, [...params, batch]);
    total += res.rowCount;
    if (res.rowCount < batch) return total;
  }
}

/**
 * Finished tasks past the cutoff whose session has nothing left to run, in creation order (seq), in
 * the window of seqs ($3, $4]: no index on finished_at is kept (it would make every completion rewrite
 * index entries), and tasks finish roughly in the order they were created.
 */
const DOOMED_TASKS = `
select t.id, t.seq from tasks t
where t.seq > $3 and t.seq <= $4 and t.finished_at < $1 and t.status in ('completed', 'failed', 'cancelled')
  and (t.tracking <> 'hold' or t.entry_released_at is not null or t.key is null)
  and (t.session_id is null or not exists (
    select 1 from tasks o where o.session_id = t.session_id and o.status in ('queued', 'running', 'retrying')))
order by t.seq limit $2`;

/** One batch: the tasks and their history, and where the batch stopped. */
const PRUNE_TASKS = `
with doomed as (${DOOMED_TASKS} for update skip locked),
history as (delete from task_events e using doomed d where e.task_id = d.id returning 1),
gone as (delete from tasks t using doomed d where t.id = d.id returning 1)
select (select count(*) from gone)::int as tasks, (select count(*) from history)::int as events,
  (select max(seq) from doomed) as last`;

const PRUNE_SESSIONS = `
delete from sessions s using (
  select s.id from sessions s
  where s.created_at < $1 and not exists (select 1 from tasks t where t.session_id = s.id)
  limit $2
) doomed where s.id = doomed.id`;

const PRUNE_WORKERS = `
delete from workers w using (
  select w.id from workers w where w.stale_at < $1 limit $2
) doomed where w.id = doomed.id`;

const PRUNE_WORKER_EVENTS = `
delete from worker_events e using (
  select e.id from worker_events e where e.at < $1 limit $2
) doomed where e.id = doomed.id`;

/** Windows closed before the cutoff: a create of their key would open a new one anyway. */
const PRUNE_THROTTLE = `
delete from task_throttle th using (
  select th.type, th.key from task_throttle th where th.until < $1 limit $2
) doomed where th.type = doomed.type and th.key = doomed.key`;

/** Debounce keys whose task is gone: the next create of such a key makes a task either way. */
const PRUNE_DEBOUNCE = `
delete from task_debounce d using (
  select d.type, d.key from task_debounce d
  where not exists (select 1 from tasks t where t.id = d.task_id) limit $1
) doomed where d.type = doomed.type and d.key = doomed.key`;

/**
 * Retention: finished tasks (with their events) whose session has nothing left
 * to run, then sessions left empty, then stale workers, all older than the cutoff.
 * Held session entries are kept until released.
 */
/** The first task after a seq, and whether it was created before the cutoff. */
const HEAD = `select t.seq, t.created_at < $2 as old from tasks t where t.seq > $1 order by t.seq limit 1`;

/**
 * Retention walks the tasks in creation order, a window of seqs at a time, and stops at the first
 * task created after the cutoff: a task finishes after it is created, so none later can be past it.
 * A run therefore reads the history it deletes (and the unfinished tasks among it), never the newer
 * history that stays, however much of it there is. Each batch is its own statement and transaction.
 */
export async function prune(db: Queryable, cutoff: Date, batch: number): Promise<PruneResult> {
  let tasks = 0;
  let events = 0;
  for (let after = 0; ; ) {
    const head = (await db.query<{ seq: string | number; old: boolean }>(HEAD, [after, cutoff])).rows[0];
    if (!head?.old) break;
    const upper = Number(head.seq) + batch * 4;
    const res = await db.query<{ tasks: number; events: number; last: string | number | null }>(PRUNE_TASKS, [
      cutoff,
      batch,
      Math.max(after, Number(head.seq) - 1),
      upper,
    ]);
    const row = res.rows[0]!;
    tasks += row.tasks;
    events += row.events;
    // A full batch may have left more in the window; otherwise the window is done.
    after = row.tasks >= batch && row.last !== null ? Number(row.last) : upper;
  }
  const sessions = await inBatches(db, PRUNE_SESSIONS, [cutoff], batch);
  const workers = await inBatches(db, PRUNE_WORKERS, [cutoff], batch);
  events += await inBatches(db, PRUNE_WORKER_EVENTS, [cutoff], batch * 20);
  await inBatches(db, PRUNE_THROTTLE, [cutoff], batch);
  await inBatches(db, PRUNE_DEBOUNCE, [], batch);
  await db.query('delete from task_throughput where minute < $1', [cutoff]);
  return { tasks, sessions, events, workers };
}
