import type { Queryable } from '../db.js';
import type { Task, TaskFilter, WaitReason } from '../types.js';

/**
 * Why a task is not running, from the store's own state (issue 16): what a user would otherwise
 * reconstruct from the task, the fleet and the queue by hand. One statement per task, reading only
 * indexed rows: the task's queue row, the live workers, the claims of the workers that take it, and
 * at most AHEAD_CAP queue rows of its own type and queue.
 */
const AHEAD_CAP = 10_000;
/** How many workers a reason lists (the fleet view has the rest). */
const LISTED_WORKERS = 10;

/** A live worker that takes tasks of `$1` (type) on `$2` (queue): no types or queues registered means any. */
const TAKES = `w.stale_at is null and w.last_heartbeat_at > now() - make_interval(secs => $3::int / 1000.0)
  and (cardinality(w.types) = 0 or $1 = any(w.types)) and (cardinality(w.queues) = 0 or $2 = any(w.queues))`;

const PROBE = `
with q as (select * from task_queue where seq = $4),
takers as (select w.id, w.machine_id, w.labels, w.concurrency from workers w where ${TAKES}),
eligible as (
  select t.* from takers t, q
  where (q.avoid_machine_id is null or t.machine_id <> q.avoid_machine_id)
    and (q.avoid_labels is null or not (t.labels @> q.avoid_labels)))
select
  (select count(*) from q)::int as queued,
  (select (date_part('epoch', q.run_at) * 1000)::int8 from q) as run_at,
  (select q.run_at > now() from q) as later,
  (select count(*) from takers)::int as takers,
  (select count(*) from eligible)::int as eligible,
  (select coalesce(sum(e.concurrency), 0) from eligible e)::int as slots,
  (select coalesce(sum(c.open), 0) from task_claims c where c.worker_id in (select id from eligible))::int as busy,
  (select count(*) from (
    select 1 from task_queue o, q
    where o.type = q.type and o.queue = q.queue and o.run_at <= now() and o.seq <> q.seq
      and (o.priority > q.priority or (o.priority = q.priority and (o.run_at, o.seq) < (q.run_at, q.seq)))
    limit ${AHEAD_CAP}) a)::int as ahead,
  (select json_agg(x) from (
    select w.id, w.machine_id as "machineId", w.types, w.queues from workers w
    where w.stale_at is null and w.last_heartbeat_at > now() - make_interval(secs => $3::int / 1000.0)
    order by w.last_heartbeat_at desc limit ${LISTED_WORKERS}) x) as live_workers`;

interface ProbeRow {
  queued: number;
  run_at: string | null;
  later: boolean | null;
  takers: number;
  eligible: number;
  slots: number;
  busy: number;
  ahead: number;
  live_workers: { id: string; machineId: string; types: string[]; queues: string[] }[] | null;
}

/** The reasons `task` waits, most decisive first; null when it is not waiting (running or finished). */
export async function waitingOn(
  db: Queryable,
  task: Task,
  staleAfterMs: number,
): Promise<WaitReason[] | null> {
  if (task.status !== 'queued' && task.status !== 'retrying') return null;
  const res = await db.query<ProbeRow>(PROBE, [task.type, task.queue, staleAfterMs, task.seq]);
  const r = res.rows[0];
  if (!r || r.queued === 0) return null;
  const reasons: WaitReason[] = [];
  const until = r.run_at === null ? null : new Date(Number(r.run_at)).toISOString();
  if (r.later && until) {
    reasons.push(
      task.status === 'retrying'
        ? { reason: 'backoff', message: `backing off after a failed attempt until ${until}`, until }
        : { reason: 'scheduled', message: `scheduled to run at ${until}`, until },
    );
  }
  const where = `type ${JSON.stringify(task.type)} on queue ${JSON.stringify(task.queue)}`;
  if (r.takers === 0) {
    const workers = r.live_workers ?? [];
    reasons.push({
      reason: 'no_live_worker',
      message:
        workers.length === 0
          ? `no live worker takes ${where}: no worker is live`
          : `no live worker takes ${where}; live workers take ${workers
              .map(
                (w) =>
                  `${w.types.length ? w.types.join(',') : 'any type'} on ${w.queues.length ? w.queues.join(',') : 'any queue'}`,
              )
              .join('; ')}`,
      workers,
    });
  } else if (r.eligible === 0) {
    const avoid = [
      task.avoidMachineId ? `machine ${JSON.stringify(task.avoidMachineId)}` : null,
      task.avoidLabels ? `labels ${JSON.stringify(task.avoidLabels)}` : null,
    ].filter(Boolean);
    reasons.push({
      reason: 'avoided',
      message: `it avoids ${avoid.join(' and ')}, and all ${r.takers} live workers that take ${where} match it`,
      workers: r.takers,
    });
  } else if (!r.later) {
    const full = r.busy >= r.slots;
    reasons.push({
      reason: 'queued',
      message: `runnable, ${r.ahead >= AHEAD_CAP ? `${AHEAD_CAP}+` : r.ahead} ahead of it in ${where}; ${r.eligible} live workers may take it, ${r.busy} of their ${r.slots} slots busy${full ? ' (all busy)' : ''}`,
      ahead: r.ahead,
      aheadCapped: r.ahead >= AHEAD_CAP,
      workers: r.eligible,
      slots: r.slots,
      busySlots: r.busy,
    });
  }
  return reasons;
}

/** Codes of the reasons a task list can be filtered by. */
export const WAIT_FILTERS = ['scheduled', 'backoff', 'no_live_worker'] as const;
export type WaitFilter = NonNullable<TaskFilter['waitingOn']>;

/**
 * The task filter `waitingOn` as a predicate over the runnable tasks (`q`: task_queue); `p` adds a
 * parameter and returns its placeholder.
 */
export function waitFilterPredicate(f: WaitFilter, staleAfterMs: number, p: (v: unknown) => string): string {
  switch (f) {
    case 'scheduled':
      return `q.status = 'queued' and q.run_at > now()`;
    case 'backoff':
      return `q.status = 'retrying' and q.run_at > now()`;
    case 'no_live_worker':
      return `not exists (select 1 from workers w where w.stale_at is null
        and w.last_heartbeat_at > now() - make_interval(secs => ${p(staleAfterMs)}::int / 1000.0)
        and (cardinality(w.types) = 0 or q.type = any(w.types))
        and (cardinality(w.queues) = 0 or q.queue = any(w.queues)))`;
  }
}
