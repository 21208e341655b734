import { ValidationError } from '../../core/errors.js';
import { RUNNABLE_STATUSES, type TaskStatus, UNFINISHED_STATUSES } from '../../core/states.js';
import type { Queryable } from '../db.js';
import type { ListTasksParams, Page, Task, TaskEvent, TaskFilter } from '../types.js';
import { countable, countFromCounters, emptyCounts } from './counts.js';
import {
  decodeCursor,
  type EventRow,
  encodeCursor,
  rowToEvent,
  rowToTask,
  TASK_COLUMNS,
  type TaskRow,
} from './rows.js';
import { RUNNING_TASKS } from './running.js';
import { isRunnableReason, waitFilterPredicate } from './waiting-on.js';

export const MAX_PAGE_SIZE = 1000;

const RUNNABLE: readonly TaskStatus[] = RUNNABLE_STATUSES;

function list<T>(v: T | T[] | undefined): T[] | null {
  if (v === undefined) return null;
  return Array.isArray(v) ? v : [v];
}

/** Where each kind of status filter reads from: the small tables when it names only unfinished tasks. */
const SOURCES = {
  all: 'tasks t',
  runnable: 'task_queue q join tasks t on t.seq = q.seq',
  running: RUNNING_TASKS,
  waiting: 'task_waits w join tasks t on t.seq = w.seq',
  unfinished: `tasks t join (select q.seq from task_queue q union all select t.seq from ${RUNNING_TASKS}
    union all select w.seq from task_waits w) a on a.seq = t.seq`,
};

/**
 * A task filter as SQL: the tables to read and the predicates, with their parameters. Only the
 * filters given become predicates, so the planner sees which indexes apply: a filter on runnable
 * statuses reads the queue, one on running tasks the claims, one on any unfinished statuses both
 * (small tables all), and one on dead letters or error text the tasks that ever failed an attempt
 * (tasks_errored).
 */
export interface TaskQuery {
  from: string;
  where: string;
  params: unknown[];
  /** The column that orders by creation: q.seq when reading the queue (its primary key drives the scan). */
  seq: string;
}

export function taskQuery(f: TaskFilter, params: unknown[] = []): TaskQuery {
  const where: string[] = [];
  const p = (v: unknown) => `$${params.push(v)}`;
  const statuses = list(f.status);
  const only = (set: readonly TaskStatus[]) =>
    statuses !== null && statuses.length > 0 && statuses.every((s) => set.includes(s));
  // A reason to wait reads the queue (runnable tasks) or the waits (waiting tasks).
  const reason = f.waitingOn === undefined ? null : isRunnableReason(f.waitingOn) ? 'runnable' : 'waiting';
  const source =
    only(RUNNABLE) || reason === 'runnable'
      ? 'runnable'
      : only(['running'])
        ? 'running'
        : only(['waiting']) || reason === 'waiting'
          ? 'waiting'
          : only(UNFINISHED_STATUSES)
            ? 'unfinished'
            : 'all';
  if (statuses) {
    where.push(`${source === 'runnable' ? 'q' : 't'}.status = any(${p(statuses)}::text[])`);
    if (statuses.every((s) => s === 'failed')) where.push('t.error is not null');
  }
  const types = list(f.type);
  if (types) where.push(`t.type = any(${p(types)}::text[])`);
  const queues = list(f.queue);
  if (queues) where.push(`${source === 'runnable' ? 'q' : 't'}.queue = any(${p(queues)}::text[])`);
  if (f.sessionId !== undefined) where.push(`t.session_id = ${p(f.sessionId)}`);
  if (f.key !== undefined) where.push(`t.key = ${p(f.key)}`);
  if (f.userId !== undefined) where.push(`t.user_id = ${p(f.userId)}`);
  if (f.workerId !== undefined) {
    where.push(`${source === 'running' ? 'c' : 't'}.worker_id = ${p(f.workerId)}`);
  }
  if (f.createdAfter !== undefined) where.push(`t.created_at >= ${p(f.createdAfter)}`);
  if (f.createdBefore !== undefined) where.push(`t.created_at < ${p(f.createdBefore)}`);
  if (f.errorContains !== undefined) {
    where.push(
      `t.error is not null and strpos(lower(t.error ->> 'message'), lower(${p(f.errorContains)})) > 0`,
    );
  }
  if (f.ids !== undefined) where.push(`t.id = any(${p(f.ids)}::text[])`);
  if (f.waitingOn !== undefined) where.push(waitFilterPredicate(f.waitingOn, f.liveWithinMs ?? 60_000, p));
  return {
    from: SOURCES[source],
    where: where.length > 0 ? where.join(' and ') : 'true',
    params,
    seq: source === 'runnable' ? 'q.seq' : 't.seq',
  };
}

export async function getTaskRow(db: Queryable, id: string): Promise<Task | null> {
  const res = await db.query<TaskRow>(`select ${TASK_COLUMNS} from tasks t where t.id = $1`, [id]);
  return res.rows[0] ? rowToTask(res.rows[0]) : null;
}

export async function listTasks(db: Queryable, p: ListTasksParams): Promise<Page<Task>> {
  const limit = p.limit ?? 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
    throw new ValidationError(`limit must be an integer from 1 to ${MAX_PAGE_SIZE}`, { field: 'limit' });
  }
  let after: number | null = null;
  if (p.cursor) {
    try {
      after = decodeCursor(p.cursor);
    } catch {
      throw new ValidationError('cursor is not one this server returned; pass nextCursor unchanged', {
        field: 'cursor',
      });
    }
  }
  // Three orders: newest first, oldest first, and a session's tasks by index.
  const byIndex = p.sessionId !== undefined && p.order === undefined;
  const q = taskQuery(p);
  const key = byIndex ? 't.session_index' : q.seq;
  const desc = !byIndex && p.order !== 'asc';
  const cursor = after === null ? '' : ` and ${key} ${desc ? '<' : '>'} $${q.params.push(after)}`;
  const sql = `select ${TASK_COLUMNS} from ${q.from} where ${q.where}${cursor}
    order by ${key} ${desc ? 'desc' : 'asc'} limit $${q.params.push(limit + 1)}`;
  const res = await db.query<TaskRow>(sql, q.params);
  const items = res.rows.slice(0, limit).map(rowToTask);
  const last = items[items.length - 1];
  const more = res.rows.length > limit && last;
  return {
    items,
    nextCursor: more ? encodeCursor(byIndex ? (last.sessionIndex ?? 0) : last.seq) : null,
  };
}

/**
 * Counts by status: from the task counters (counts.ts) when the filter names only statuses, types and
 * queues, the dashboard's filters, at any table size; otherwise by a query of the tasks it names.
 */
export async function countTasks(db: Queryable, f: TaskFilter): Promise<Record<string, number>> {
  if (countable(f)) return countFromCounters(db, f);
  const q = taskQuery(f);
  const res = await db.query<{ status: string; n: number }>(
    `select t.status, count(*)::int as n from ${q.from} where ${q.where} group by t.status`,
    q.params,
  );
  const out = emptyCounts();
  for (const r of res.rows) {
    out[r.status] = r.n;
    out.total = (out.total ?? 0) + r.n;
  }
  return out;
}

/**
 * A task's history: its event rows, and the steps of the happy path that the task row itself
 * records and that are not written as rows (migration 0004): created (created_at), the claim of the
 * current attempt (attempt, worker_id, started_at) and its completion (finished_at). A kind a row
 * already records is not derived again, so rows of earlier versions read the same.
 *
 * Events are ordered by attempt, then claim, other events in the order written, completion, so
 * the order is that of the task's life whatever the clocks said; `id` is the position in it.
 */
const TASK_HISTORY = `
with t as (select t.attempt, t.status, t.worker_id, t.created_at, t.started_at, t.finished_at
  from tasks t where t.id = $1),
rec as (
  select e.id, e.attempt, e.kind, e.at, e.worker_id, e.data,
    row_number() over (partition by e.attempt, e.kind = 'claimed' order by e.id) as nth
  from task_events e where e.task_id = $1),
ev as (
  select r.id, r.attempt, r.kind, r.at, r.worker_id, r.data from rec r where r.kind <> 'claimed' or r.nth = 1
  union all
  select null, 0, 'created', t.created_at, null, null from t
  where not exists (select 1 from rec where rec.kind = 'created')
  union all
  select null, t.attempt, 'claimed', t.started_at, t.worker_id, null from t
  where t.attempt > 0 and t.started_at is not null
    and not exists (select 1 from rec where rec.kind = 'claimed' and rec.attempt = t.attempt)
  union all
  select null, t.attempt, 'completed', t.finished_at, t.worker_id, null from t
  where t.status = 'completed' and not exists (select 1 from rec where rec.kind = 'completed')
),
numbered as (
  select row_number() over (order by ev.attempt,
      case ev.kind when 'created' then 0 when 'claimed' then 1 when 'completed' then 3 else 2 end,
      ev.id nulls first) as pos, ev.*
  from ev)
select n.pos as id, $1 as task_id, n.attempt, n.kind, n.at, n.worker_id, n.data from numbered n
where n.pos > $2 order by n.pos limit $3`;

export async function getTaskEvents(
  db: Queryable,
  taskId: string,
  p: { limit?: number; afterId?: number } = {},
): Promise<TaskEvent[]> {
  const res = await db.query<EventRow>(TASK_HISTORY, [
    taskId,
    p.afterId ?? 0,
    Math.min(p.limit ?? 500, 5000),
  ]);
  return res.rows.map(rowToEvent);
}

export interface ThroughputPoint {
  /** Start of the minute, ISO 8601. */
  at: string;
  completed: number;
  failed: number;
}

/**
 * Tasks that finished completed or failed, per minute, over the last `minutes` minutes, from the
 * counters every completion and dead letter adds to (task_throughput), so every server node answers
 * the same and history survives restarts.
 */
export async function throughput(
  db: Queryable,
  minutes: number,
  now: Date | null,
): Promise<ThroughputPoint[]> {
  const res = await db.query<{ minute: Date; completed: number; failed: number }>(
    `select tp.minute, sum(tp.completed)::int as completed, sum(tp.failed)::int as failed
     from task_throughput tp
     where tp.minute >= date_trunc('minute', coalesce($1::timestamptz, now())) - make_interval(mins => $2::int - 1)
     group by tp.minute`,
    [now, minutes],
  );
  const byMinute = new Map(res.rows.map((r) => [new Date(r.minute).getTime(), r]));
  const current = Math.floor((now ?? new Date()).getTime() / 60_000) * 60_000;
  const points: ThroughputPoint[] = [];
  for (let i = minutes - 1; i >= 0; i--) {
    const at = current - i * 60_000;
    const r = byMinute.get(at);
    points.push({ at: new Date(at).toISOString(), completed: r?.completed ?? 0, failed: r?.failed ?? 0 });
  }
  return points;
}
