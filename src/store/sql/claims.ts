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
import type { CompletedRow } from './events.js';
import { requeueFrom } from './requeue.js';
import { rowToTask, TASK_COLUMNS, type TaskRow } from './rows.js';

/**
 * Claims run in the database function claim_tasks (migration 0004): PostgreSQL keeps its plans per
 * connection, so a claim is not planned again on every call, and its planner settings keep the
 * plan an ordered walk of the queue's index whatever the statistics say.
 */
const CLAIM_TASKS = 'select * from claim_tasks($1, $2, $3, $4, $5, $6, $7, null, null)';

const CLAIM_SESSION_TASK = 'select * from claim_tasks($1, $2, $3, $4, null, null, 1, $5, $6)';

/** claim_tasks raises this when the worker is not live. */
const NOT_LIVE = 'GF002';

/** Completions run in the database function complete_tasks (migration 0004), planned once per connection. */
const COMPLETE_TASKS = 'select * from complete_tasks($1, $2, $3, $4, $5, $6)';

/** A claimed task as claim_tasks returns it: times in epoch milliseconds. */
interface ClaimedRow {
  id: string;
  seq: number;
  type: string;
  queue: string;
  payload: Json;
  priority: number;
  run_at: number;
  attempt: number;
  max_attempts: number;
  timeout_ms: number | null;
  idempotency_key: string | null;
  session_id: string | null;
  session_index: number | null;
  key: string | null;
  user_id: string | null;
  metadata: Record<string, Json>;
  created_at: number;
  started_at: number;
  concurrency_key: string | null;
}

function toClaimed(r: ClaimedRow, workerId: string, leaseMs: number): ClaimedTask {
  return {
    id: r.id,
    seq: r.seq,
    type: r.type,
    queue: r.queue,
    payload: r.payload,
    priority: r.priority,
    runAt: new Date(r.run_at),
    attempt: r.attempt,
    maxAttempts: r.max_attempts,
    timeoutMs: r.timeout_ms,
    idempotencyKey: r.idempotency_key,
    sessionId: r.session_id,
    sessionIndex: r.session_index,
    key: r.key,
    userId: r.user_id,
    metadata: r.metadata,
    workerId,
    // The same instant the database stored: the claim's time plus the lease it was given.
    leaseExpiresAt: new Date(r.started_at + leaseMs),
    createdAt: new Date(r.created_at),
    startedAt: new Date(r.started_at),
    concurrencyKey: r.concurrency_key,
  };
}

/** Runs a claim; a worker that is not live gets WorkerNotLiveError with the reason. */
async function claimRows(
  db: Queryable,
  sql: string,
  params: unknown[],
  workerId: string,
): Promise<ClaimedRow[]> {
  try {
    return (await db.query<ClaimedRow>(sql, params)).rows;
  } catch (err) {
    if ((err as { code?: string }).code === NOT_LIVE) throw await notLive(db, workerId);
    throw err;
  }
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
  returning t.seq, t.id, t.attempt, o.worker_id, o.started_at, t.queue, t.type, t.priority, t.run_at,
    t.session_id, t.session_index, t.avoid_machine_id, t.avoid_labels, t.claim_id, t.concurrency_key
),
requeued as (${requeueFrom('back', 'queued')}),
released as (select release_claims(array(select claim_id from back))),
ev as (
  insert into task_events (task_id, attempt, kind, worker_id, at)
  select id, attempt, 'claimed', worker_id, started_at from back
  union all select id, attempt, 'handed_back', worker_id, now() from back
)
select b.id, b.queue, b.type from back b, released`;

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
  const lease = p.leaseMs ?? leaseMs;
  const rows = await claimRows(
    db,
    CLAIM_TASKS,
    [
      p.workerId,
      p.now ?? null,
      staleAfterMs,
      lease,
      p.types?.length ? p.types : null,
      p.queues?.length ? p.queues : null,
      p.limit,
    ],
    p.workerId,
  );
  // UPDATE ... RETURNING keeps no set order: hand the tasks out in claim order.
  return rows.sort(byClaimOrder).map((r) => toClaimed(r, p.workerId, lease));
}

/** Priority (higher first), then run-at, then creation: the order claims take tasks in. */
function byClaimOrder(a: ClaimedRow, b: ClaimedRow): number {
  return b.priority - a.priority || a.run_at - b.run_at || a.seq - b.seq;
}

export async function claimSessionTask(
  db: Queryable,
  p: ClaimSessionTaskParams,
  leaseMs: number,
  staleAfterMs: number,
): Promise<ClaimedTask> {
  const lease = p.leaseMs ?? leaseMs;
  const [one] = await claimRows(
    db,
    CLAIM_SESSION_TASK,
    [p.workerId, p.now ?? null, staleAfterMs, lease, p.sessionId, p.index ?? null],
    p.workerId,
  );
  if (one) return toClaimed(one, p.workerId, lease);
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

/** A completed attempt as complete_tasks reports it (for the store's events). */
/** Completes a batch in one statement; `detail` also returns what the store's events report. */
export async function completeTasks(
  db: Queryable,
  items: CompleteItem[],
  detail: boolean,
): Promise<CompleteTasksResult & { rows: CompletedRow[] }> {
  if (items.length === 0) return { completed: [], refused: [], rows: [] };
  const res = await db.query<CompletedRow>(COMPLETE_TASKS, [
    items.map((i) => i.taskId),
    items.map((i) => i.seq ?? null),
    items.map((i) => i.attempt),
    items.map((i) => i.workerId ?? null),
    items.map((i) => JSON.stringify(i.result ?? null)),
    detail,
  ]);
  const rows = detail ? res.rows : [];
  const done = new Set(res.rows.map((r) => r.id));
  return {
    completed: [...done],
    refused: items
      .filter((i) => !done.has(i.taskId))
      .map(({ taskId, attempt, workerId }) => ({ taskId, attempt, workerId })),
    rows,
  };
}

/**
 * Completes one attempt on the caller's transaction (`tx` is the caller's client): fenced like every
 * worker write, so an attempt that no longer holds the task gets a LeaseLostError and the caller must
 * roll back. The row stays locked until the caller's commit or rollback.
 */
export async function completeTaskIn(tx: Queryable, item: CompleteItem): Promise<CompletedRow> {
  const res = await completeTasks(tx, [item], true);
  const row = res.rows[0];
  if (row) return row;
  throw await lostReason(tx, item);
}

/** Locks the attempt for a write, or explains why the writer lost it. */
export async function lockAttempt(tx: Queryable, ref: AttemptRef): Promise<Task> {
  const res = await tx.query<TaskRow>(LOCK_ATTEMPT, [ref.taskId, ref.attempt, ref.workerId ?? null]);
  const row = res.rows[0];
  if (row) return rowToTask(row);
  throw await lostReason(tx, ref);
}

export async function lostReason(db: Queryable, ref: AttemptRef): Promise<Error> {
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
): Promise<Array<{ id: string; queue: string; type: string }>> {
  if (items.length === 0) return [];
  const res = await db.query<{ id: string; queue: string; type: string }>(HAND_BACK, [
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
