import { ConflictError, NotFoundError, ValidationError } from '../../core/errors.js';
import { MAX_TASK_DEPTH } from '../../core/states.js';
import type { Queryable } from '../db.js';
import type { Json, SpawnChildrenParams, Task, WaitForSignalParams } from '../types.js';
import { lockAttempt } from './claims.js';
import { type InsertContext, insertTasks } from './create.js';
import { eventSink } from './events.js';
import { requeueFrom } from './requeue.js';
import { rowToTask, TASK_COLUMNS, type TaskRow } from './rows.js';
import { beginWaits } from './waits.js';
import { notifyWork } from './wake.js';

/**
 * Waits a handler starts (issue 15, items 3 and 4): its attempt ends and the task waits, holding no
 * worker slot, for the children it spawned or for a signal; then it runs again. The attempt is not
 * spent (attempt_floor rises, as for a hand-back), so waiting never uses up the task's budget.
 */

/**
 * The running attempt ends and the task waits. Its claim is written to the history now (o: the row
 * as it was), as every claim is when its attempt does not end in a completion.
 */
const RUNNING_TO_WAITING = `
with waiting as (
  update tasks t set status = 'waiting', attempt_floor = t.attempt_floor + 1, worker_id = null,
    lease_expires_at = null, deadline_at = null, updated_at = now()
  from tasks o
  where t.id = $1 and o.seq = t.seq and t.attempt = $2 and t.status = 'running'
  returning ${TASK_COLUMNS}, t.claim_id, o.worker_id as held_by, o.started_at as claimed_at
),
released as (select release_claims(array(select claim_id from waiting))),
ev as (
  insert into task_events (task_id, attempt, kind, worker_id, at, data)
  select id, attempt, 'claimed', held_by, claimed_at, null from waiting
  union all select id, attempt, 'waiting', held_by, now(), $3::jsonb from waiting
)
select w.* from waiting w, released`;

async function toWaiting(tx: Queryable, task: Task, data: Json): Promise<Task> {
  const res = await tx.query<TaskRow>(RUNNING_TO_WAITING, [task.id, task.attempt, JSON.stringify(data)]);
  return rowToTask(res.rows[0]!);
}

const LINK_CHILDREN = `
update tasks t set parent_id = $1, depth = $2 where t.seq = any($3::bigint[]) and t.parent_id is null`;

export async function spawnChildren(
  tx: Queryable,
  p: SpawnChildrenParams,
  ctx: InsertContext,
): Promise<{ parent: Task; children: Task[] }> {
  if (!Array.isArray(p.children) || p.children.length === 0) {
    throw new ValidationError('children must be a non-empty array of tasks', { field: 'children' });
  }
  const parent = await lockAttempt(tx, p);
  const depth = parent.depth + 1;
  if (depth > MAX_TASK_DEPTH) {
    throw new ValidationError(
      `children of task ${parent.id} would be at depth ${depth}; tasks nest at most ${MAX_TASK_DEPTH} deep`,
      { field: 'children', depth, limit: MAX_TASK_DEPTH },
    );
  }
  const { tasks } = await insertTasks(tx, p.children, ctx);
  const seqs = [...new Set(tasks.map((t) => t.seq))];
  await tx.query(LINK_CHILDREN, [parent.id, depth, seqs]);
  const waiting = await toWaiting(tx, parent, { kind: 'children', children: seqs.length });
  await beginWaits(tx, [
    {
      seq: parent.seq,
      kind: 'children',
      deps: seqs,
      onFailure: p.onChildFailure ?? 'run',
      round: parent.attempt,
    },
  ]);
  eventSink(tx)?.push({
    event: 'task_waiting',
    taskId: parent.id,
    type: parent.type,
    queue: parent.queue,
    sessionId: parent.sessionId,
    attempt: parent.attempt,
    kind: 'children',
  });
  const children = tasks.map((t) => ({
    ...t,
    parentId: t.parentId ?? parent.id,
    depth: t.parentId ? t.depth : depth,
  }));
  const now = await tx.query<TaskRow>(`select ${TASK_COLUMNS} from tasks t where t.seq = $1`, [waiting.seq]);
  return { parent: rowToTask(now.rows[0]!), children };
}

export async function waitForSignal(tx: Queryable, p: WaitForSignalParams): Promise<Task> {
  if (p.timeoutMs !== undefined && !(Number.isInteger(p.timeoutMs) && p.timeoutMs > 0)) {
    throw new ValidationError('timeoutMs must be a positive integer', { field: 'timeoutMs' });
  }
  if (p.onTimeout !== undefined && p.onTimeout !== 'fail' && p.onTimeout !== 'run') {
    throw new ValidationError('onTimeout must be one of fail, run', { field: 'onTimeout' });
  }
  const task = await lockAttempt(tx, p);
  const waiting = await toWaiting(tx, task, { kind: 'signal', timeoutMs: p.timeoutMs ?? null });
  await beginWaits(tx, [{ seq: task.seq, kind: 'signal', timeoutMs: p.timeoutMs, onTimeout: p.onTimeout }]);
  eventSink(tx)?.push({
    event: 'task_waiting',
    taskId: task.id,
    type: task.type,
    queue: task.queue,
    sessionId: task.sessionId,
    attempt: task.attempt,
    kind: 'signal',
  });
  return waiting;
}

const LOCK_TASK = `select ${TASK_COLUMNS} from tasks t where t.id = $1 for update`;

/** A waiting task becomes queued, with how its wait ended for its handler (metadata['gaffer.wake']). */
const WAIT_TO_QUEUED = (source: string) => `
with ended as (${source}),
woke as (
  update tasks t set status = 'queued', updated_at = now(),
    metadata = t.metadata || jsonb_build_object('gaffer.wake', e.wake)
  from ended e where t.seq = e.seq and t.status = 'waiting'
  returning ${TASK_COLUMNS}, e.event, e.event_data
),
queued as (${requeueFrom('woke', 'queued')}),
ev as (insert into task_events (task_id, attempt, kind, data) select id, attempt, event, event_data from woke)
select * from woke`;

const SIGNAL = WAIT_TO_QUEUED(`
  delete from task_waits w where w.seq = $1 and w.kind = 'signal'
  returning w.seq, jsonb_build_object('kind', 'signal', 'data', $2::jsonb) as wake, 'signalled' as event,
    jsonb_build_object('data', $2::jsonb) as event_data`);

/** Completes a signal wait: the task becomes runnable with the signal's data. */
export async function signalTask(tx: Queryable, p: { taskId: string; data?: Json }): Promise<Task> {
  const locked = await tx.query<TaskRow>(LOCK_TASK, [p.taskId]);
  if (!locked.rows[0]) throw new NotFoundError('task', p.taskId);
  const task = rowToTask(locked.rows[0]);
  const res = await tx.query<TaskRow>(SIGNAL, [task.seq, JSON.stringify(p.data ?? null)]);
  const row = res.rows[0];
  if (!row) {
    throw new ConflictError(`task ${p.taskId} is ${task.status}, not waiting for a signal`, {
      taskId: p.taskId,
      status: task.status,
    });
  }
  const woke = rowToTask(row);
  await notifyWork(tx, [woke]);
  eventSink(tx)?.push({
    event: 'task_signalled',
    taskId: woke.id,
    type: woke.type,
    queue: woke.queue,
    sessionId: woke.sessionId,
  });
  return woke;
}

/** Signal waits past their timeout with policy 'run': runnable, with a timeout marker. */
const EXPIRE_RUN = WAIT_TO_QUEUED(`
  delete from task_waits w where w.seq in (
    select x.seq from task_waits x where x.timeout_at <= coalesce($1::timestamptz, now()) and x.on_timeout = 'run'
    order by x.timeout_at limit $2 for update skip locked)
  returning w.seq, jsonb_build_object('kind', 'timeout') as wake, 'wait_timed_out' as event,
    jsonb_build_object('policy', 'run') as event_data`);

/** Signal waits past their timeout with policy 'fail': dead letters, with the reason. */
const EXPIRE_FAIL = `
with ended as (
  delete from task_waits w where w.seq in (
    select x.seq from task_waits x where x.timeout_at <= coalesce($1::timestamptz, now()) and x.on_timeout = 'fail'
    order by x.timeout_at limit $2 for update skip locked)
  returning w.seq, w.timeout_at, w.since
),
failed as (
  update tasks t set status = 'failed', finished_at = now(), updated_at = now(),
    error = jsonb_build_object('message', 'the wait for a signal timed out after '
      || round(extract(epoch from e.timeout_at - e.since) * 1000) || ' ms', 'kind', 'timeout', 'retryable', false)
  from ended e where t.seq = e.seq and t.status = 'waiting'
  returning t.id, t.attempt, t.type, t.queue, t.session_id, t.error
),
ev as (
  insert into task_events (task_id, attempt, kind, data)
  select id, attempt, 'wait_timed_out', jsonb_build_object('policy', 'fail') from failed
  union all select id, attempt, 'failed', jsonb_build_object('error', error) from failed
),
counted as (
  insert into task_throughput as tp (minute, node, failed)
  select date_trunc('minute', now()), pg_backend_pid(), count(*) from failed having count(*) > 0
  on conflict (minute, node) do update set failed = tp.failed + excluded.failed
)
select id, type, queue, session_id, attempt from failed`;

/** Ends the signal waits whose timeout passed, per their policy; returns how many ended each way. */
export async function expireWaits(
  tx: Queryable,
  now: Date | null,
  limit = 1000,
): Promise<{ failed: string[]; run: string[] }> {
  const run = (await tx.query<TaskRow>(EXPIRE_RUN, [now, limit])).rows.map(rowToTask);
  await notifyWork(tx, run);
  const failed = await tx.query<{
    id: string;
    type: string;
    queue: string;
    session_id: string | null;
    attempt: number;
  }>(EXPIRE_FAIL, [now, limit]);
  const sink = eventSink(tx);
  if (sink) {
    for (const f of failed.rows) {
      sink.push({
        event: 'dead_lettered',
        taskId: f.id,
        type: f.type,
        queue: f.queue,
        sessionId: f.session_id,
        attempt: f.attempt,
        error: 'the wait for a signal timed out',
        attempts: 0,
      });
    }
  }
  return { failed: failed.rows.map((r) => r.id), run: run.map((t) => t.id) };
}
