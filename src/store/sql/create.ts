import { DEFAULT_BACKOFF } from '../../core/backoff.js';
import { ValidationError } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import type { Queryable } from '../db.js';
import type { StoreOptions } from '../store.js';
import type { CreateOutcome, NewTask, Task } from '../types.js';
import { TASK_COLUMNS_MS } from './claims.js';
import { eventSink } from './events.js';
import { retryLocked } from './retry.js';
import { rowToTask, TASK_COLUMNS, type TaskRow } from './rows.js';
import { checkNewTask } from './validate.js';

/**
 * One call per batch of the database function insert_tasks (migration 0001): the rows, their
 * defaults from the task type, and their `created` events, planned once per connection.
 */
const INSERT_TASKS = `
select ${TASK_COLUMNS_MS} from insert_tasks($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
  $17, $18) t`;

const DEFAULT_BACKOFF_JSON = JSON.stringify(DEFAULT_BACKOFF);

const FIND_EXISTING = `
select ${TASK_COLUMNS} from tasks t
where t.id = any($1::text[]) or t.idempotency_key = any($2::text[])
  or (t.session_id = $3 and t.session_index = any($4::int[]))`;

export interface InsertContext {
  options: StoreOptions;
  retry: boolean;
  by: string;
}

interface Prepared {
  task: NewTask & { id: string };
  sessionIndex: number | null;
}

/**
 * Inserts tasks in one statement (idempotent by id, idempotency key and session
 * index), then resolves the ones that existed, retrying failed ones when asked.
 * Runs inside the caller's transaction, so a batch is all or nothing.
 */
export async function insertTasks(
  tx: Queryable,
  input: NewTask[],
  ctx: InsertContext,
  session?: { id: string; startIndex: number },
): Promise<{ tasks: Task[]; outcomes: CreateOutcome[] }> {
  if (!Array.isArray(input) || input.length === 0) {
    throw new ValidationError('tasks must be a non-empty array', { field: 'tasks' });
  }
  for (const [i, t] of input.entries()) checkNewTask(t, input.length === 1 && !session ? '' : `tasks[${i}].`);
  const prepared: Prepared[] = input.map((t, i) => ({
    task: { ...t, id: t.id ?? newId() },
    sessionIndex: session ? session.startIndex + i : null,
  }));

  const col = <T>(f: (p: Prepared) => T) => prepared.map(f);
  const inserted = await tx.query<TaskRow>(INSERT_TASKS, [
    col((p) => p.task.id),
    col((p) => p.task.type),
    col((p) => p.task.queue ?? 'default'),
    col((p) => JSON.stringify(p.task.payload ?? null)),
    col((p) => p.task.priority ?? 0),
    col((p) => p.task.runAt ?? null),
    col((p) => p.task.delayMs ?? null),
    col((p) => p.task.maxAttempts ?? null),
    col((p) => p.task.timeoutMs ?? null),
    col((p) => (p.task.backoff ? JSON.stringify(p.task.backoff) : null)),
    col((p) => p.task.idempotencyKey ?? null),
    col((p) => (session ? session.id : (p.task.sessionId ?? null))),
    col((p) => p.sessionIndex),
    col((p) => p.task.key ?? null),
    col((p) => p.task.userId ?? null),
    col((p) => JSON.stringify(p.task.metadata ?? {})),
    ctx.options.maxAttempts,
    DEFAULT_BACKOFF_JSON,
  ]);

  const byId = new Map<string, Task>();
  for (const row of inserted.rows) byId.set(row.id, rowToTask(row));
  const sink = eventSink(tx);
  if (sink) {
    for (const t of byId.values()) {
      sink.push({
        event: 'task_created',
        taskId: t.id,
        type: t.type,
        queue: t.queue,
        sessionId: t.sessionId,
      });
    }
  }

  const outcomes: CreateOutcome[] = [];
  const tasks: Task[] = [];
  const missing = prepared.filter((p) => !byId.has(p.task.id));
  let existing: Task[] = [];
  if (missing.length > 0) {
    const res = await tx.query<TaskRow>(FIND_EXISTING, [
      missing.map((p) => p.task.id),
      missing.map((p) => p.task.idempotencyKey).filter((k) => k !== undefined),
      session?.id ?? null,
      missing.map((p) => p.sessionIndex).filter((k) => k !== null),
    ]);
    existing = res.rows.map(rowToTask);
  }
  const seen = new Set<string>();
  for (const p of prepared) {
    const fresh = byId.get(p.task.id);
    if (fresh && !seen.has(fresh.id)) {
      seen.add(fresh.id);
      tasks.push(fresh);
      outcomes.push('created');
      continue;
    }
    const found =
      fresh ??
      existing.find((t) => t.id === p.task.id) ??
      existing.find(
        (t) => p.task.idempotencyKey !== undefined && t.idempotencyKey === p.task.idempotencyKey,
      ) ??
      existing.find(
        (t) => session !== undefined && t.sessionId === session.id && t.sessionIndex === p.sessionIndex,
      );
    if (!found) {
      // The row that blocked the insert was deleted in between: treat as a conflict the caller may retry.
      throw new ValidationError(
        `task ${p.task.id} conflicts with a task that no longer exists; send it again`,
      );
    }
    if (ctx.retry && (found.status === 'failed' || found.status === 'cancelled')) {
      const r = await retryLocked(tx, found.id, {
        by: ctx.by,
        reason: 'sent again',
        limit: ctx.options.manualRetryLimit,
        quiet: true,
      });
      tasks.push(r ?? found);
      outcomes.push(r ? 'retried' : 'retry_refused');
    } else {
      tasks.push(found);
      outcomes.push('existing');
    }
  }
  return { tasks, outcomes };
}
