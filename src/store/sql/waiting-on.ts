import type { Queryable } from '../db.js';
import type { Task, WaitFilter, WaitReason } from '../types.js';

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
  (select floor(date_part('epoch', q.run_at) * 1000)::int8 from q) as run_at,
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

/** The flow controls (migration 0012) of the task's queue and type, with what they count now. */
const FLOW = `
select c.scope, c.name, c.paused_at, c.paused_by, c.concurrency, c.key_concurrency,
  c.rate_limit, c.rate_interval_ms, case when c.rate_limited_until > now() then c.rate_limited_until end as rate_until,
  (select coalesce(sum(k.n), 0)::int from task_counts k where k.status = 'running'
    and case when c.scope = 'queue' then k.queue = c.name else k.type = c.name end) as running,
  q.concurrency_key as key,
  (select count(*)::int from task_key_running r where r.key = q.concurrency_key
    and case when c.scope = 'queue' then r.queue = c.name else r.type = c.name end) as key_running,
  (select kr.limited_until from flow_key_rates kr where kr.scope = c.scope and kr.name = c.name
    and kr.key = q.concurrency_key and kr.limited_until > now()) as key_rate_until
from flow_controls c, task_queue q
where q.seq = $3 and ((c.scope = 'queue' and c.name = $2) or (c.scope = 'type' and c.name = $1))
order by c.scope`;

interface FlowRow {
  scope: 'queue' | 'type';
  name: string;
  paused_at: Date | null;
  paused_by: string | null;
  concurrency: number | null;
  key_concurrency: number | null;
  rate_limit: number | null;
  rate_interval_ms: number | null;
  rate_until: Date | null;
  running: number;
  key: string | null;
  key_running: number;
  key_rate_until: Date | null;
}

/** Pauses and limits of the task's queue and type that hold it now. */
async function flowReasons(db: Queryable, task: Task): Promise<WaitReason[]> {
  const rows = (await db.query<FlowRow>(FLOW, [task.type, task.queue, task.seq])).rows;
  const out: WaitReason[] = [];
  for (const c of rows) {
    const scope = `${c.scope} ${JSON.stringify(c.name)}`;
    if (c.paused_at) {
      const since = new Date(c.paused_at).toISOString();
      out.push({
        reason: 'paused',
        message: `${scope} is paused (since ${since}${c.paused_by ? ` by ${c.paused_by}` : ''})`,
        scope: c.scope,
        name: c.name,
        since,
      });
    }
    if (c.concurrency !== null && c.running >= c.concurrency) {
      out.push({
        reason: 'concurrency_limit',
        message: `${scope} runs ${c.running} of its limit of ${c.concurrency} at once`,
        scope: c.scope,
        name: c.name,
        running: c.running,
        limit: c.concurrency,
      });
    }
    if (c.key !== null && c.key_concurrency !== null && c.key_running >= c.key_concurrency) {
      out.push({
        reason: 'key_limit',
        message: `key ${JSON.stringify(c.key)} runs ${c.key_running} of the ${scope} limit of ${c.key_concurrency} per key`,
        scope: c.scope,
        name: c.name,
        key: c.key,
        running: c.key_running,
        limit: c.key_concurrency,
      });
    }
    const rateUntil = c.rate_until ?? c.key_rate_until;
    if (rateUntil) {
      const until = new Date(rateUntil).toISOString();
      const perKey = c.rate_until === null ? ` for key ${JSON.stringify(c.key)}` : '';
      out.push({
        reason: 'rate_limit',
        message: `${scope} is rate-limited${perKey} until ${until}`,
        scope: c.scope,
        name: c.name,
        until,
      });
    }
  }
  return out;
}

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

/** A `waiting` task's wait (migration 0010), with up to LISTED_WORKERS of what it still waits for. */
const WAIT = `
select w.kind, w.pending, w.on_failure, w.timeout_at, w.on_timeout,
  (select json_agg(x) from (
    select t.id, t.type, t.status from task_deps d join tasks t on t.seq = d.depends_on_seq
    where d.task_seq = w.seq and d.round = w.round and t.status not in ('completed', 'failed', 'cancelled')
    order by t.seq limit ${LISTED_WORKERS}) x) as open
from task_waits w where w.seq = $1`;

interface WaitRow {
  kind: 'dependencies' | 'children' | 'signal';
  pending: number;
  on_failure: string;
  timeout_at: Date | null;
  on_timeout: string | null;
  open: { id: string; type: string; status: string }[] | null;
}

async function waitingFor(db: Queryable, task: Task): Promise<WaitReason[] | null> {
  const w = (await db.query<WaitRow>(WAIT, [task.seq])).rows[0];
  if (!w) return null;
  if (w.kind === 'signal') {
    const until = w.timeout_at ? new Date(w.timeout_at).toISOString() : undefined;
    const then = w.on_timeout === 'run' ? 'run anyway' : 'fail';
    return [
      {
        reason: 'signal',
        message: `waits for a signal (POST /api/v1/tasks/${task.id}/signal)${until ? `; at ${until} it times out and will ${then}` : ''}`,
        ...(until ? { until } : {}),
      },
    ];
  }
  const open = w.open ?? [];
  const listed = open.map((o) => `${o.id} (${o.type}, ${o.status})`).join(', ');
  const more = w.pending > open.length ? ` and ${w.pending - open.length} more` : '';
  const what = w.kind === 'children' ? 'children it spawned' : 'dependencies';
  const then = w.on_failure === 'run' ? 'run anyway' : 'be cancelled';
  return [
    {
      reason: w.kind,
      message: `waits for ${w.pending} ${what} to finish${listed ? `: ${listed}${more}` : ''}; if one does not complete it will ${then}`,
      pending: w.pending,
      tasks: open,
    },
  ];
}

/** The reasons `task` waits, most decisive first; null when it is not waiting (running or finished). */
export async function waitingOn(
  db: Queryable,
  task: Task,
  staleAfterMs: number,
): Promise<WaitReason[] | null> {
  if (task.status === 'waiting') return waitingFor(db, task);
  if (task.status !== 'queued' && task.status !== 'retrying') return null;
  const res = await db.query<ProbeRow>(PROBE, [task.type, task.queue, staleAfterMs, task.seq]);
  const r = res.rows[0];
  if (!r || r.queued === 0) return null;
  const reasons: WaitReason[] = [];
  const flow = await flowReasons(db, task);
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
  }
  reasons.push(...flow);
  if (r.takers > 0 && r.eligible > 0 && !r.later && flow.length === 0) {
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

/** Reasons of the runnable tasks (read from the queue); the others are kinds of `waiting`. */
export function isRunnableReason(f: WaitFilter): boolean {
  return f !== 'dependencies' && f !== 'children' && f !== 'signal';
}

/** A flow control of the task's queue or type (`q`: task_queue); `c` is the control. */
const OF_TASK = `((c.scope = 'queue' and c.name = q.queue) or (c.scope = 'type' and c.name = q.type))`;
/** A row `r` (task_counts, task_key_running) of the control's scope. */
const IN_SCOPE = `case when c.scope = 'queue' then r.queue = c.name else r.type = c.name end`;

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
    // The flow-control reasons hold as GET /tasks/:id reports them (flowReasons above).
    case 'paused':
      return `exists (select 1 from flow_controls c where c.paused_at is not null and ${OF_TASK})`;
    case 'concurrency_limit':
      return `exists (select 1 from flow_controls c where c.concurrency is not null and ${OF_TASK}
        and (select coalesce(sum(r.n), 0) from task_counts r where r.status = 'running' and ${IN_SCOPE}) >= c.concurrency)`;
    case 'key_limit':
      return `q.concurrency_key is not null and exists (select 1 from flow_controls c
        where c.key_concurrency is not null and ${OF_TASK}
        and (select count(*) from task_key_running r where r.key = q.concurrency_key and ${IN_SCOPE}) >= c.key_concurrency)`;
    case 'rate_limit':
      return `exists (select 1 from flow_controls c where ${OF_TASK} and (c.rate_limited_until > now()
        or exists (select 1 from flow_key_rates kr where kr.scope = c.scope and kr.name = c.name
          and kr.key = q.concurrency_key and kr.limited_until > now())))`;
    default:
      return `t.status = 'waiting' and exists (select 1 from task_waits w where w.seq = t.seq and w.kind = ${p(f)})`;
  }
}
