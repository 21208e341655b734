import { DEFAULT_BACKOFF } from '../../core/backoff.js';
import { ValidationError } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import type { TrackingPolicy } from '../../core/states.js';
import type { Queryable } from '../db.js';
import type { StoreOptions } from '../store.js';
import type { CreateOutcome, NewTask, Task, TaskTypeConfig } from '../types.js';
import { eventSink } from './events.js';
import { retryLocked } from './retry.js';
import { rowToTask, rowToTaskType, TASK_COLUMNS, type TaskRow } from './rows.js';
import { checkNewTask } from './validate.js';

const INSERT_TASKS = `
insert into tasks (id, type, queue, payload, priority, run_at, max_attempts, timeout_ms, backoff,
  idempotency_key, session_id, session_index, key, user_id, metadata, tracking)
select i.id, i.type, i.queue, i.payload::jsonb, i.priority,
  coalesce(i.run_at, now() + make_interval(secs => coalesce(i.delay_ms, 0) / 1000.0)),
  i.max_attempts, i.timeout_ms, i.backoff::jsonb, i.idempotency_key, i.session_id, i.session_index, i.key,
  i.user_id, i.metadata::jsonb, i.tracking
from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::timestamptz[], $7::int[], $8::int[],
  $9::int[], $10::text[], $11::text[], $12::text[], $13::int[], $14::text[], $15::text[], $16::text[], $17::text[])
  with ordinality as i(id, type, queue, payload, priority, run_at, delay_ms, max_attempts, timeout_ms, backoff,
    idempotency_key, session_id, session_index, key, user_id, metadata, tracking, ord)
order by i.ord
on conflict do nothing
returning ${TASK_COLUMNS.replaceAll('t.', '')}`;

const INSERT_CREATED_EVENTS = `
insert into task_events (task_id, attempt, kind, data)
select id, 0, 'created', null from unnest($1::text[]) as id`;

const FIND_EXISTING = `
select ${TASK_COLUMNS} from tasks t
where t.id = any($1::text[]) or t.idempotency_key = any($2::text[])
  or (t.session_id = $3 and t.session_index = any($4::int[]))`;

const TASK_TYPES_OF = `
select type, tracking, max_attempts, timeout_ms, backoff, payload_schema, updated_at
from task_types where type = any($1::text[])`;

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
  input.forEach((t, i) => checkNewTask(t, input.length === 1 && !session ? '' : `tasks[${i}].`));
  const prepared: Prepared[] = input.map((t, i) => ({
    task: { ...t, id: t.id ?? newId() },
    sessionIndex: session ? session.startIndex + i : null,
  }));

  const typeNames = [...new Set(input.map((t) => t.type))];
  const types = new Map<string, TaskTypeConfig>();
  for (const row of (await tx.query(TASK_TYPES_OF, [typeNames])).rows) {
    const cfg = rowToTaskType(row as Parameters<typeof rowToTaskType>[0]);
    types.set(cfg.type, cfg);
  }

  const col = <T>(f: (p: Prepared, cfg: TaskTypeConfig | undefined) => T) =>
    prepared.map((p) => f(p, types.get(p.task.type)));
  const inserted = await tx.query<TaskRow>(INSERT_TASKS, [
    col((p) => p.task.id),
    col((p) => p.task.type),
    col((p) => p.task.queue ?? 'default'),
    col((p) => JSON.stringify(p.task.payload ?? null)),
    col((p) => p.task.priority ?? 0),
    col((p) => p.task.runAt ?? null),
    col((p) => p.task.delayMs ?? null),
    col((p, c) => p.task.maxAttempts ?? c?.maxAttempts ?? ctx.options.maxAttempts),
    col((p, c) => p.task.timeoutMs ?? c?.timeoutMs ?? null),
    col((p, c) => JSON.stringify({ ...DEFAULT_BACKOFF, ...(c?.backoff ?? {}), ...(p.task.backoff ?? {}) })),
    col((p) => p.task.idempotencyKey ?? null),
    col((p) => (session ? session.id : (p.task.sessionId ?? null))),
    col((p) => p.sessionIndex),
    col((p) => p.task.key ?? null),
    col((p) => p.task.userId ?? null),
    col((p) => JSON.stringify(p.task.metadata ?? {})),
    col((_p, c): TrackingPolicy => c?.tracking ?? 'track'),
  ]);

  const byId = new Map<string, Task>();
  for (const row of inserted.rows) byId.set(row.id, rowToTask(row));
  if (byId.size > 0) await tx.query(INSERT_CREATED_EVENTS, [[...byId.keys()]]);
  const sink = eventSink(tx);
  if (sink) {
    for (const t of byId.values()) {
      sink.push({ event: 'task_created', taskId: t.id, type: t.type, queue: t.queue, sessionId: t.sessionId });
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
      existing.find((t) => p.task.idempotencyKey !== undefined && t.idempotencyKey === p.task.idempotencyKey) ??
      existing.find((t) => session !== undefined && t.sessionId === session.id && t.sessionIndex === p.sessionIndex);
    if (!found) {
      // The row that blocked the insert was deleted in between: treat as a conflict the caller may retry.
      throw new ValidationError(`task ${p.task.id} conflicts with a task that no longer exists; send it again`);
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
