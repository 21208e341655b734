import { ConflictError, GafferError, NotFoundError } from '../../core/errors.js';
import { TRANSITIONS } from '../../core/states.js';
import type { Queryable } from '../db.js';
import type { Task } from '../types.js';
import { eventSink } from './events.js';
import { requeueFrom } from './requeue.js';
import { rowToTask, TASK_COLUMNS, type TaskRow } from './rows.js';
import { notifyWork } from './wake.js';

const LOCK_TASK = `select ${TASK_COLUMNS} from tasks t where t.id = $1 for update`;

/** A failed or cancelled task runs again: it goes back into the active set, runnable at once. */
const RETRY_BY_HAND = `
with retried as (
  update tasks t set status = 'retrying', run_at = now(), manual_retries = t.manual_retries + 1,
    attempt_floor = t.attempt, cancel_requested = false, worker_id = null, lease_expires_at = null,
    deadline_at = null, finished_at = null, updated_at = now(),
    avoid_machine_id = $3, avoid_labels = $4::jsonb,
    retry_history = t.retry_history || jsonb_build_array(jsonb_build_object(
      'attempt', t.attempt + 1, 'at', now(), 'by', $5::text, 'reason', $6::text, 'outcome', null))
  where t.id = $1 and t.status = any($2::text[])
  returning ${TASK_COLUMNS}
),
queued as (${requeueFrom('retried', 'retrying')})
select * from retried`;

const RETRIED_EVENT = `
insert into task_events (task_id, attempt, kind, data)
values ($1, $2, 'retried_by_hand', jsonb_build_object('by', $3::text, 'reason', $4::text, 'manualRetry', $5::int))`;

export interface RetryOptions {
  by: string;
  reason?: string | null;
  limit: number;
  avoidLastMachine?: boolean;
  avoidLabels?: Record<string, string>;
  /** Return null instead of throwing when the task is not eligible or over its limit. */
  quiet?: boolean;
}

/**
 * Manual retry inside the caller's transaction. The row lock makes concurrent
 * retries of one task queue up; the first wins and the rest find it no longer
 * failed/cancelled and get a conflict.
 */
export async function retryLocked(tx: Queryable, taskId: string, opts: RetryOptions): Promise<Task | null> {
  const locked = await tx.query<TaskRow>(LOCK_TASK, [taskId]);
  const row = locked.rows[0];
  if (!row) {
    if (opts.quiet) return null;
    throw new NotFoundError('task', taskId);
  }
  const task = rowToTask(row);
  const allowed: readonly string[] = TRANSITIONS.retryByHand.from;
  if (!allowed.includes(task.status)) {
    if (opts.quiet) return null;
    // A retry still under way (the newest history entry has no outcome yet) means another
    // caller won the race: that is a conflict. Otherwise the task simply is not retryable.
    const pending =
      task.retryHistory.length > 0 && task.retryHistory[task.retryHistory.length - 1]!.outcome === null;
    if (pending && task.status !== 'completed') {
      throw new ConflictError(
        `task ${taskId} was already retried and is ${task.status} now; wait for that run to end before retrying again`,
        {
          taskId,
          status: task.status,
        },
      );
    }
    throw new GafferError(
      'not_eligible',
      `task ${taskId} is ${task.status}; only failed or cancelled tasks can be retried`,
      { taskId, status: task.status },
    );
  }
  if (task.manualRetries >= opts.limit) {
    if (opts.quiet) return null;
    throw new GafferError(
      'retry_limit',
      `task ${taskId} was already retried by hand ${task.manualRetries} times (limit ${opts.limit})`,
      { taskId, manualRetries: task.manualRetries, limit: opts.limit },
    );
  }
  const res = await tx.query<TaskRow>(RETRY_BY_HAND, [
    taskId,
    allowed,
    opts.avoidLastMachine ? task.machineId : null,
    opts.avoidLabels ? JSON.stringify(opts.avoidLabels) : null,
    opts.by,
    opts.reason ?? null,
  ]);
  const updated = rowToTask(res.rows[0]!);
  await tx.query(RETRIED_EVENT, [taskId, task.attempt, opts.by, opts.reason ?? null, updated.manualRetries]);
  eventSink(tx)?.push({
    event: 'task_retried_by_hand',
    taskId,
    type: updated.type,
    queue: updated.queue,
    sessionId: updated.sessionId,
    attempt: updated.attempt + 1,
    by: opts.by,
    reason: opts.reason ?? null,
    manualRetries: updated.manualRetries,
  });
  await notifyWork(tx, [updated]);
  return updated;
}
