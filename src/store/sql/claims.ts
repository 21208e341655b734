import { ConflictError, LeaseLostError, NotFoundError, WorkerNotLiveError } from '../../core/errors.js';
import type { Queryable } from '../db.js';
import type {
  AttemptRef,
  ClaimedTask,
  ClaimSessionTaskParams,
  ClaimTasksParams,
  CompleteItem,
  CompleteTasksResult,
  FailTaskParams,
  Json,
  Task,
} from '../types.js';
import { endFailedAttempt } from './attempts.js';
import { rowToTask, TASK_COLUMNS, type TaskRow } from './rows.js';

/**
 * Claims run in the database function claim_tasks (migration 0004): PostgreSQL keeps its plans per
 * connection, so a claim is not planned again on every call, and its planner settings keep the
 * plan an ordered walk of the runnable index whatever the statistics say. It answers with one JSON
 * array (null when the worker is not live), which parses far faster than rows of columns.
 */
const CLAIM_TASKS = 'select claim_tasks($1, $2, $3, $4, $5, $6, $7, null, null) as out';

const CLAIM_SESSION_TASK = 'select claim_tasks($1, $2, $3, $4, null, null, 1, $5, $6) as out';

/** Completions run in the database function complete_tasks (migration 0004), planned once per connection. */
const COMPLETE_TASKS = 'select * from complete_tasks($1, $2, $3, $4)';

/** A claimed task as claim_tasks encodes it: times in epoch milliseconds. */
type ClaimedJson = Omit<ClaimedTask, 'runAt' | 'leaseExpiresAt' | 'createdAt' | 'startedAt'> & {
  runAt: number;
  leaseExpiresAt: number;
  createdAt: number;
  startedAt: number;
};

function toClaimed(j: ClaimedJson): ClaimedTask {
  return {
    ...j,
    runAt: new Date(j.runAt),
    leaseExpiresAt: new Date(j.leaseExpiresAt),
    createdAt: new Date(j.createdAt),
    startedAt: new Date(j.startedAt),
  };
}

/** The running attempt, locked; null if the writer no longer holds it. */
const LOCK_ATTEMPT = `
select ${TASK_COLUMNS} from tasks t
where t.id = $1 and t.attempt = $2 and t.status = 'running' and ($3::text is null or t.worker_id = $3)
for update`;

/**
 * Unstarted attempts go back to the queue without spending an attempt. The attempt's claim is
 * written to the history now (o: the row as it was), as every claim is when its attempt does not end
 * in a completion.
 */
const HAND_BACK = `
with input as (select * from unnest($1::text[], $2::int[], $3::text[]) as i(id, attempt, worker_id)),
back as (
  update tasks t set status = 'queued', attempt_floor = t.attempt_floor + 1, worker_id = null,
    lease_expires_at = null, deadline_at = null, started_at = null, updated_at = now()
  from input i, tasks o
  where t.id = i.id and o.seq = t.seq and t.attempt = i.attempt and t.status = 'running'
    and (i.worker_id is null or t.worker_id = i.worker_id)
  returning t.seq, t.id, t.attempt, o.worker_id, o.started_at, t.queue
),
requeued as (
  update task_queue q set status = 'queued', worker_id = null where q.seq = any(array(select seq from back))
),
ev as (
  insert into task_events (task_id, attempt, kind, worker_id, at)
  select id, attempt, 'claimed', worker_id, started_at from back
  union all select id, attempt, 'handed_back', worker_id, now() from back
)
select id, queue from back`;

const EXTEND_LEASE = `
update tasks t set lease_expires_at = now() + make_interval(secs => $4::int / 1000.0)
where t.id = $1 and t.attempt = $2 and t.status = 'running' and ($3::text is null or t.worker_id = $3)
returning t.lease_expires_at`;

const REPORT_PROGRESS = `
with upd as (
  update tasks t set progress = $4::jsonb, updated_at = now()
  where t.id = $1 and t.attempt = $2 and t.status = 'running' and ($3::text is null or t.worker_id = $3)
  returning t.id, t.attempt, t.worker_id
)
insert into task_events (task_id, attempt, kind, worker_id, data)
select id, attempt, 'progress', worker_id, jsonb_build_object('progress', $4::jsonb) from upd
returning task_id`;

const TASK_STATUS = 'select status, attempt from tasks where id = $1';

export async function claimTasks(
  db: Queryable,
  p: ClaimTasksParams,
  leaseMs: number,
  staleAfterMs: number,
): Promise<ClaimedTask[]> {
  if (p.limit <= 0) return [];
  const res = await db.query<{ out: ClaimedJson[] | null }>(CLAIM_TASKS, [
    p.workerId,
    p.now ?? null,
    staleAfterMs,
    p.leaseMs ?? leaseMs,
    p.types?.length ? p.types : null,
    p.queues?.length ? p.queues : null,
    p.limit,
  ]);
  const out = res.rows[0]?.out ?? null;
  if (out === null) throw await notLive(db, p.workerId);
  return out.map(toClaimed);
}

export async function claimSessionTask(
  db: Queryable,
  p: ClaimSessionTaskParams,
  leaseMs: number,
  staleAfterMs: number,
): Promise<ClaimedTask> {
  const res = await db.query<{ out: ClaimedJson[] | null }>(CLAIM_SESSION_TASK, [
    p.workerId,
    p.now ?? null,
    staleAfterMs,
    p.leaseMs ?? leaseMs,
    p.sessionId,
    p.index ?? null,
  ]);
  const out = res.rows[0]?.out ?? null;
  if (out === null) throw await notLive(db, p.workerId);
  if (out[0]) return toClaimed(out[0]);
  const where = p.index === undefined ? 'no free task' : `no task at index ${p.index}`;
  const exists = await db.query<{ status: string; n: number }>(
    `select t.status, count(*)::int as n from tasks t
     where t.session_id = $1 and ($2::int is null or t.session_index = $2) group by t.status`,
    [p.sessionId, p.index ?? null],
  );
  if (exists.rows.length === 0) {
    const s = await db.query('select 1 from sessions where id = $1', [p.sessionId]);
    if (s.rows.length === 0) throw new NotFoundError('session', p.sessionId);
    throw new NotFoundError(`task of session ${p.sessionId} at index`, p.index ?? 'next');
  }
  const statuses = exists.rows.map((r) => r.status).join(', ');
  throw new ConflictError(`session ${p.sessionId} has ${where} to claim (status: ${statuses})`, {
    sessionId: p.sessionId,
    index: p.index ?? null,
    statuses,
  });
}

/** Why a worker may not claim: it is not registered, or it is stale. */
async function notLive(db: Queryable, workerId: string): Promise<Error> {
  const known = await db.query<{ stale_reason: string | null }>(
    'select stale_reason from workers where id = $1',
    [workerId],
  );
  const row = known.rows[0];
  return new WorkerNotLiveError(
    workerId,
    !row ? 'it is not registered' : `it is stale (${row.stale_reason ?? 'no recent heartbeat'})`,
  );
}

/** A completed row as the completion statement returns it (for the store's events). */
export interface CompletedRow {
  id: string;
  attempt: number;
  worker_id: string | null;
  type: string;
  queue: string;
  session_id: string | null;
  duration_ms: number | null;
  /** Completed is final, so on a task retried by hand this ends its newest retry: time since it was asked for. */
  retry_ms: number | null;
}

export async function completeTasks(
  db: Queryable,
  items: CompleteItem[],
): Promise<CompleteTasksResult & { rows: CompletedRow[] }> {
  if (items.length === 0) return { completed: [], refused: [], rows: [] };
  const res = await db.query<CompletedRow>(COMPLETE_TASKS, [
    items.map((i) => i.taskId),
    items.map((i) => i.attempt),
    items.map((i) => i.workerId ?? null),
    items.map((i) => JSON.stringify(i.result ?? null)),
  ]);
  const done = new Set(res.rows.map((r) => r.id));
  return {
    completed: [...done],
    refused: items
      .filter((i) => !done.has(i.taskId))
      .map(({ taskId, attempt, workerId }) => ({ taskId, attempt, workerId })),
    rows: res.rows,
  };
}

/** Locks the attempt for a write, or explains why the writer lost it. */
export async function lockAttempt(tx: Queryable, ref: AttemptRef): Promise<Task> {
  const res = await tx.query<TaskRow>(LOCK_ATTEMPT, [ref.taskId, ref.attempt, ref.workerId ?? null]);
  const row = res.rows[0];
  if (row) return rowToTask(row);
  throw await lostReason(tx, ref);
}

async function lostReason(db: Queryable, ref: AttemptRef): Promise<Error> {
  const cur = await db.query<{ status: string; attempt: number }>(TASK_STATUS, [ref.taskId]);
  const row = cur.rows[0];
  if (!row) return new NotFoundError('task', ref.taskId);
  if (row.attempt !== ref.attempt) {
    return new LeaseLostError(ref.taskId, ref.attempt, `the task is on attempt ${row.attempt} now`);
  }
  if (row.status !== 'running')
    return new LeaseLostError(ref.taskId, ref.attempt, `the task is ${row.status}`);
  return new LeaseLostError(ref.taskId, ref.attempt, 'another worker holds it');
}

export async function failTask(tx: Queryable, p: FailTaskParams): Promise<Task> {
  const task = await lockAttempt(tx, p);
  const kind = p.error.kind === 'timeout' || p.error.kind === 'cancelled' ? p.error.kind : 'failed';
  return endFailedAttempt(tx, task, kind, p.error, p.now ?? null);
}

export async function handBackTasks(
  db: Queryable,
  items: AttemptRef[],
): Promise<Array<{ id: string; queue: string }>> {
  if (items.length === 0) return [];
  const res = await db.query<{ id: string; queue: string }>(HAND_BACK, [
    items.map((i) => i.taskId),
    items.map((i) => i.attempt),
    items.map((i) => i.workerId ?? null),
  ]);
  return res.rows;
}

export async function extendLease(db: Queryable, p: AttemptRef & { leaseMs: number }): Promise<Date> {
  const res = await db.query<{ lease_expires_at: Date }>(EXTEND_LEASE, [
    p.taskId,
    p.attempt,
    p.workerId ?? null,
    p.leaseMs,
  ]);
  const row = res.rows[0];
  if (!row) throw await lostReason(db, p);
  return new Date(row.lease_expires_at);
}

export async function reportProgress(db: Queryable, p: AttemptRef & { progress: Json }): Promise<void> {
  const res = await db.query(REPORT_PROGRESS, [
    p.taskId,
    p.attempt,
    p.workerId ?? null,
    JSON.stringify(p.progress),
  ]);
  if (res.rows.length === 0) throw await lostReason(db, p);
}
