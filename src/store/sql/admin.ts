import { GafferError, IllegalTransitionError, NotFoundError } from '../../core/errors.js';
import { TRANSITIONS } from '../../core/states.js';
import type { Queryable } from '../db.js';
import type { BulkResult, Task, TaskFilter } from '../types.js';
import { CLOSE_RETRY_HISTORY } from './attempts.js';
import { eventSink } from './events.js';
import { taskQuery } from './queries.js';
import { type RetryOptions, retryLocked } from './retry.js';
import { rowToTask, TASK_COLUMNS, type TaskRow } from './rows.js';

const LOCK_TASK = `select ${TASK_COLUMNS} from tasks t where t.id = $1 for update`;

const CANCEL_NOW = `
with cancelled as (
  update tasks t set status = 'cancelled', finished_at = now(), updated_at = now(), lease_expires_at = null,
    retry_history = ${CLOSE_RETRY_HISTORY("'cancelled'")}
  where t.id = $1 and t.status = any($2::text[])
  returning ${TASK_COLUMNS}
),
left_queue as (delete from task_queue q using cancelled c where q.seq = c.seq),
left_waits as (delete from task_waits w using cancelled c where w.seq = c.seq)
select * from cancelled`;

const REQUEST_CANCEL = `
update tasks t set cancel_requested = true, updated_at = now()
where t.id = $1 and t.status = 'running'
returning ${TASK_COLUMNS}`;

const EVENT = `insert into task_events (task_id, attempt, kind, worker_id, data)
values ($1, $2, $3, $4, jsonb_build_object('by', $5::text, 'reason', $6::text))`;

/** Cancels one task inside `tx`: at once if it has not started, through its worker if it runs. */
export async function cancelLocked(
  tx: Queryable,
  taskId: string,
  by: string,
  reason: string | null,
): Promise<Task> {
  const locked = await tx.query<TaskRow>(LOCK_TASK, [taskId]);
  if (!locked.rows[0]) throw new NotFoundError('task', taskId);
  const task = rowToTask(locked.rows[0]);
  const before: readonly string[] = TRANSITIONS.cancelBeforeRun.from;
  if (before.includes(task.status)) {
    const res = await tx.query<TaskRow>(CANCEL_NOW, [taskId, before]);
    await tx.query(EVENT, [taskId, task.attempt, 'cancelled', null, by, reason]);
    eventSink(tx)?.push({
      event: 'task_cancelled',
      taskId,
      type: task.type,
      queue: task.queue,
      sessionId: task.sessionId,
      attempt: task.attempt,
      by,
      reason,
    });
    return rowToTask(res.rows[0]!);
  }
  if (task.status === 'running') {
    if (task.cancelRequested) return task;
    const res = await tx.query<TaskRow>(REQUEST_CANCEL, [taskId]);
    await tx.query(EVENT, [taskId, task.attempt, 'cancel_requested', task.workerId, by, reason]);
    return rowToTask(res.rows[0]!);
  }
  throw new IllegalTransitionError(taskId, task.status, 'cancel', [...before, 'running']);
}

/** Applies fn to every task matching the filter, one by one in `tx`; tasks it refuses are counted, not fatal. */
async function forEachMatching(
  tx: Queryable,
  filter: TaskFilter,
  onlyStatuses: string[],
  fn: (id: string) => Promise<Task | null>,
): Promise<BulkResult> {
  const statuses = filter.status ? ([] as string[]).concat(filter.status) : onlyStatuses;
  const wanted = statuses.filter((s) => onlyStatuses.includes(s));
  if (wanted.length === 0) return { matched: 0, changed: 0, ids: [] };
  const scoped = { ...filter, status: wanted as TaskFilter['status'] };
  const q = taskQuery(scoped);
  const res = await tx.query<{ id: string }>(
    `select t.id from ${q.from} where ${q.where} order by ${q.seq} limit 100000`,
    q.params,
  );
  const ids: string[] = [];
  for (const { id } of res.rows) {
    try {
      if (await fn(id)) ids.push(id);
    } catch (err) {
      if (!(err instanceof GafferError)) throw err;
    }
  }
  return { matched: res.rows.length, changed: ids.length, ids };
}

export function cancelMatching(tx: Queryable, filter: TaskFilter, by: string, reason: string | null) {
  return forEachMatching(tx, filter, ['waiting', 'queued', 'retrying', 'running'], (id) =>
    cancelLocked(tx, id, by, reason),
  );
}

export function retryMatching(tx: Queryable, filter: TaskFilter, opts: RetryOptions) {
  return forEachMatching(tx, filter, ['failed', 'cancelled'], (id) =>
    retryLocked(tx, id, { ...opts, quiet: true }),
  );
}

export async function deleteTaskRows(db: Queryable, filter: TaskFilter): Promise<number> {
  const q = taskQuery(filter);
  const res = await db.query(
    `delete from tasks d where d.seq in (select t.seq from ${q.from} where ${q.where})`,
    q.params,
  );
  return res.rowCount;
}
