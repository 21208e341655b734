import { backoffDelayMs } from '../../core/backoff.js';
import type { AttemptOutcome } from '../../core/states.js';
import type { Queryable } from '../db.js';
import type { Task, TaskError } from '../types.js';
import { eventSink } from './events.js';
import { requeueFrom } from './requeue.js';
import { rowToTask, TASK_COLUMNS, type TaskRow } from './rows.js';

/** Sets the outcome of the newest manual-retry history entry, if it has none yet. */
export const CLOSE_RETRY_HISTORY = (outcomeParam: string) => `case
  when jsonb_array_length(t.retry_history) > 0 and (t.retry_history -> -1 ->> 'outcome') is null
  then jsonb_set(t.retry_history, array[(jsonb_array_length(t.retry_history) - 1)::text, 'outcome'],
    to_jsonb(${outcomeParam}::text))
  else t.retry_history end`;

/**
 * Ends the attempt in the task row: it leaves its claim, a task retrying goes back into the queue
 * (runnable at its new run_at), and a dead letter counts in task_throughput.
 */
const END_ATTEMPT = `
with ended as (
  update tasks t set status = $3, error = $4::jsonb, run_at = case when $5::int is null then t.run_at
      else coalesce($6::timestamptz, now()) + make_interval(secs => $5::int / 1000.0) end,
    worker_id = case when $3 = 'retrying' then null else t.worker_id end,
    lease_expires_at = null, deadline_at = null, updated_at = now(),
    finished_at = case when $3 in ('failed', 'cancelled') then now() else null end,
    retry_history = case when $3 in ('failed', 'cancelled') then ${CLOSE_RETRY_HISTORY('$3')} else t.retry_history end
  where t.id = $1 and t.attempt = $2 and t.status = 'running'
  returning ${TASK_COLUMNS}, t.claim_id,
    (extract(epoch from coalesce($6::timestamptz, now()) - t.started_at) * 1000)::float8 as duration_ms,
    (extract(epoch from coalesce($6::timestamptz, now()) - (t.retry_history -> -1 ->> 'at')::timestamptz) * 1000)::float8
      as since_retry_ms
),
queued as (${requeueFrom('ended', 'retrying', "status = 'retrying'")}),
released as (select release_claims(array(select claim_id from ended))),
counted as (
  insert into task_throughput as tp (minute, node, failed)
  select date_trunc('minute', now()), pg_backend_pid(), 1 from ended e where e.status = 'failed'
  on conflict (minute, node) do update set failed = tp.failed + 1
)
select e.* from ended e, released`;

/** The attempt's claim (its time and worker from the row as it was), then what ended it. */
const ATTEMPT_EVENTS = `
insert into task_events (task_id, attempt, kind, worker_id, data, at)
select $1, $2, k.kind, $3, k.data::jsonb, coalesce(k.at, now())
from unnest($4::text[], $5::text[], $6::timestamptz[]) with ordinality as k(kind, data, at, ord)
order by k.ord`;

/**
 * Ends a running attempt that did not succeed: it failed, timed out, lost its
 * lease, or was cancelled. Decides the next status from the task's budget and
 * the error, and records it. The caller holds the row (FOR UPDATE) in `tx`.
 */
export async function endFailedAttempt(
  tx: Queryable,
  task: Task,
  kind: Exclude<AttemptOutcome, 'completed' | 'handed_back'>,
  error: TaskError,
  now: Date | null,
): Promise<Task> {
  const spent = task.attempt - task.attemptFloor;
  let next: 'retrying' | 'failed' | 'cancelled';
  if (task.cancelRequested || kind === 'cancelled') next = 'cancelled';
  else if (error.retryable === false || spent >= task.maxAttempts) next = 'failed';
  else next = 'retrying';
  const delay = next === 'retrying' ? backoffDelayMs(task.backoff, spent) : 0;
  const stored: TaskError = { ...error, kind };
  const res = await tx.query<TaskRow & { duration_ms: number | null; since_retry_ms: number | null }>(
    END_ATTEMPT,
    [task.id, task.attempt, next, JSON.stringify(stored), next === 'retrying' ? delay : null, now],
  );
  const row = res.rows[0]!;
  const updated = rowToTask(row);
  const events: Array<[string, unknown, (Date | null)?]> = [['claimed', null, task.startedAt]];
  if (kind === 'lost') events.push(['lease_lost', { message: error.message }]);
  else if (kind === 'timeout') events.push(['timed_out', { message: error.message }]);
  if (next === 'cancelled') events.push(['cancelled', { message: error.message }]);
  else {
    events.push(['attempt_failed', { error: stored }]);
    if (next === 'retrying')
      events.push(['retry_scheduled', { delayMs: delay, runAt: updated.runAt.toISOString() }]);
    else events.push(['failed', { error: stored, attempts: spent }]);
  }
  await tx.query(ATTEMPT_EVENTS, [
    task.id,
    task.attempt,
    task.workerId,
    events.map((e) => e[0]),
    events.map((e) => (e[1] === null ? null : JSON.stringify(e[1]))),
    events.map((e) => e[2] ?? null),
  ]);
  const sink = eventSink(tx);
  if (sink) {
    const ref = { taskId: task.id, type: task.type, queue: task.queue, sessionId: task.sessionId };
    const attempt = task.attempt;
    // The newest manual retry is still open (no outcome yet): a final end closes it.
    const last = task.retryHistory[task.retryHistory.length - 1];
    const closesRetry = next !== 'retrying' && last !== undefined && last.outcome === null;
    if (kind === 'lost')
      sink.push({ event: 'lease_lost', ...ref, attempt, workerId: task.workerId, reason: error.message });
    sink.push({
      event: 'task_failed',
      ...ref,
      attempt,
      workerId: task.workerId,
      durationMs: row.duration_ms,
      error: error.message,
      outcome: kind,
      status: next,
      final: next !== 'retrying',
      manualRetryMs: closesRetry ? row.since_retry_ms : null,
    });
    if (next === 'retrying')
      sink.push({ event: 'retry_scheduled', ...ref, attempt, delayMs: delay, runAt: updated.runAt });
    else if (next === 'failed')
      sink.push({ event: 'dead_lettered', ...ref, attempt, error: error.message, attempts: spent });
    else sink.push({ event: 'task_cancelled', ...ref, attempt, by: null, reason: error.message });
  }
  return updated;
}
