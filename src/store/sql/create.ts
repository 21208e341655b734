import { type BackoffPolicy, DEFAULT_BACKOFF } from '../../core/backoff.js';
import { ValidationError } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import type { TrackingPolicy } from '../../core/states.js';
import type { Queryable } from '../db.js';
import type { StoreOptions } from '../store.js';
import type { CreateOutcome, NewTask, Task } from '../types.js';
import { eventSink } from './events.js';
import { retryLocked } from './retry.js';
import { rowToTask, TASK_COLUMNS, type TaskRow } from './rows.js';
import { checkNewTask } from './validate.js';
import { notifyQueue, sqlWakeChannel } from './wake.js';

/**
 * One call per batch of the database function insert_tasks (migration 0004): the batch goes as one
 * JSON document, and only what the database decides comes back (seq, defaults from the task type,
 * times); the rest of each Task is what the caller sent.
 */
const INSERT_TASKS = 'select * from insert_tasks($1::json, $2, $3::jsonb, $4, $5)';

/** insert_tasks raises this when asked for all or nothing and some tasks existed already. */
const SOME_EXIST = 'GF001';

const DEFAULT_BACKOFF_JSON = JSON.stringify(DEFAULT_BACKOFF);

const FIND_EXISTING = `
select ${TASK_COLUMNS} from tasks t
where t.id = any($1::text[]) or t.idempotency_key = any($2::text[])
  or (t.session_id = $3 and t.session_index = any($4::int[]))`;

export interface InsertContext {
  options: StoreOptions;
  retry: boolean;
  by: string;
  /**
   * Raise SomeTasksExistError, inserting nothing, unless every task is new: lets the common case
   * run as one statement outside a transaction.
   */
  allOrNothing?: boolean;
}

/** Some tasks of an all-or-nothing insert existed already; nothing was inserted. */
export class SomeTasksExistError extends Error {}

interface Prepared {
  task: NewTask & { id: string };
  sessionId: string | null;
  sessionIndex: number | null;
}

/** What insert_tasks returns of each task it inserted: times in epoch ms, backoff as JSON text. */
interface InsertedRow {
  id: string;
  seq: number;
  run_at: number;
  max_attempts: number;
  timeout_ms: number | null;
  backoff: string;
  tracking: TrackingPolicy;
  created_at: number;
}

/** Parses each distinct backoff once: a batch's tasks mostly share their type's policy. */
function backoffParser(): (text: string) => BackoffPolicy {
  const seen = new Map<string, BackoffPolicy>();
  return (text) => {
    let policy = seen.get(text);
    if (!policy) {
      policy = { ...DEFAULT_BACKOFF, ...(JSON.parse(text) as Partial<BackoffPolicy>) };
      seen.set(text, policy);
    }
    return { ...policy };
  };
}

/** A task as inserted: the caller's fields, the database's decisions, and the initial state. */
function insertedTask(p: Prepared, r: InsertedRow, backoff: BackoffPolicy): Task {
  const t = p.task;
  const createdAt = new Date(r.created_at);
  return {
    id: r.id,
    seq: r.seq,
    type: t.type,
    queue: t.queue ?? 'default',
    status: 'queued',
    payload: t.payload ?? null,
    priority: t.priority ?? 0,
    runAt: new Date(r.run_at),
    attempt: 0,
    maxAttempts: r.max_attempts,
    attemptFloor: 0,
    timeoutMs: r.timeout_ms,
    backoff,
    idempotencyKey: t.idempotencyKey ?? null,
    sessionId: p.sessionId,
    sessionIndex: p.sessionIndex,
    key: t.key ?? null,
    userId: t.userId ?? null,
    metadata: t.metadata ?? {},
    workerId: null,
    machineId: null,
    leaseExpiresAt: null,
    result: null,
    error: null,
    progress: null,
    manualRetries: 0,
    retryHistory: [],
    avoidMachineId: null,
    avoidLabels: null,
    cancelRequested: false,
    tracking: r.tracking,
    entryReleasedAt: null,
    createdAt,
    updatedAt: createdAt,
    startedAt: null,
    finishedAt: null,
  };
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
    sessionId: session ? session.id : (t.sessionId ?? null),
    sessionIndex: session ? session.startIndex + i : null,
  }));

  const batch = JSON.stringify(
    prepared.map(({ task: t, sessionId, sessionIndex }) => ({
      id: t.id,
      type: t.type,
      queue: t.queue,
      payload: t.payload,
      priority: t.priority,
      runAt: t.runAt,
      delayMs: t.delayMs,
      maxAttempts: t.maxAttempts,
      timeoutMs: t.timeoutMs,
      backoff: t.backoff,
      idempotencyKey: t.idempotencyKey,
      sessionId: sessionId ?? undefined,
      sessionIndex: sessionIndex ?? undefined,
      key: t.key,
      userId: t.userId,
      metadata: t.metadata,
    })),
  );
  // On PostgreSQL the insert notifies the queues it filled itself; on PGlite they are signalled here.
  const channel = sqlWakeChannel(tx);
  let inserted: InsertedRow[];
  try {
    const res = await tx.query<InsertedRow>(INSERT_TASKS, [
      batch,
      ctx.options.maxAttempts,
      DEFAULT_BACKOFF_JSON,
      channel,
      ctx.allOrNothing ?? false,
    ]);
    inserted = res.rows;
  } catch (err) {
    if ((err as { code?: string }).code === SOME_EXIST) throw new SomeTasksExistError();
    throw err;
  }

  const byId = new Map<string, Task>();
  // The first of repeated ids is the one inserted.
  const preparedById = new Map<string, Prepared>();
  for (const p of prepared) if (!preparedById.has(p.task.id)) preparedById.set(p.task.id, p);
  const backoff = backoffParser();
  for (const row of inserted) {
    byId.set(row.id, insertedTask(preparedById.get(row.id)!, row, backoff(row.backoff)));
  }
  if (!channel) for (const q of new Set([...byId.values()].map((t) => t.queue))) await notifyQueue(tx, q);
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
