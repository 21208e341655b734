import { type BackoffPolicy, DEFAULT_BACKOFF } from '../../core/backoff.js';
import { ValidationError } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import type { TrackingPolicy } from '../../core/states.js';
import type { Queryable } from '../db.js';
import type { StoreOptions } from '../store.js';
import type { CreateOutcome, NewSessionTask, NewTask, Task } from '../types.js';
import { eventSink } from './events.js';
import { retryLocked } from './retry.js';
import { rowToTask, TASK_COLUMNS, type TaskRow } from './rows.js';
import { checkNewTask, hasFlowKey } from './validate.js';
import { checkAcyclic, hasWait, waitOnCreate } from './waits.js';
import { notifyWork, sqlWakeChannel, workNotified } from './wake.js';

/**
 * One call per batch of the database function insert_tasks (migration 0004): the batch goes as one
 * JSON document, and only what the database decides comes back (seq, defaults from the task type,
 * times); the rest of each Task is what the caller sent.
 */
const INSERT_TASKS = 'select * from insert_tasks($1::json, $2, $3::jsonb, $4, $5)';

/**
 * insert_tasks asked for all or nothing raises one of these when some tasks existed already: its
 * own count check, or a unique violation (that insert skips ON CONFLICT).
 */
const SOME_EXIST = new Set(['GF001', '23505']);

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
  /** The time idempotency windows are compared with (tests move it); default the database's now. */
  now?: Date | null;
}

/** Some tasks of an all-or-nothing insert existed already; nothing was inserted. */
export class SomeTasksExistError extends Error {}

/**
 * A task as sent to insert_tasks: the caller's fields (a copy) with its id and session slot set. It
 * is serialised as it is (insert_tasks reads the fields it knows), so it is built once per task.
 */
type Prepared = NewTask & { id: string; sessionIndex?: number };

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
function insertedTask(t: Prepared, r: InsertedRow, backoff: BackoffPolicy): Task {
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
    idempotencyExpiresAt:
      t.idempotencyKey !== undefined && t.idempotencyTtlMs !== undefined
        ? new Date(r.created_at + t.idempotencyTtlMs)
        : null,
    sessionId: t.sessionId ?? null,
    sessionIndex: t.sessionIndex ?? null,
    key: t.key ?? null,
    userId: t.userId ?? null,
    concurrencyKey: t.concurrencyKey ?? null,
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
    parentId: null,
    depth: 0,
  };
}

/** A session's `after` indexes become the dependsOn ids of the tasks at those indexes. */
function afterToDependsOn(input: NewSessionTask[], prepared: Prepared[]): void {
  for (const [i, t] of input.entries()) {
    if (t.after === undefined) continue;
    if (!Array.isArray(t.after) || t.after.length > 1000) {
      throw new ValidationError(`tasks[${i}].after must be an array of at most 1000 task indexes`, {
        field: `tasks[${i}].after`,
      });
    }
    const ids = t.after.map((n, j) => {
      if (!Number.isInteger(n) || n < 0 || n >= input.length || n === i) {
        throw new ValidationError(
          `tasks[${i}].after[${j}] must be the index of another task of this session (0 to ${input.length - 1})`,
          { field: `tasks[${i}].after[${j}]` },
        );
      }
      return prepared[n]!.id;
    });
    prepared[i]!.dependsOn = [...(t.dependsOn ?? []), ...ids];
  }
}

/** `after` is resolved into dependsOn before the batch is sent; the database never reads it. */
function omitAfter(key: string, value: unknown): unknown {
  return key === 'after' ? undefined : value;
}

/**
 * Lets go of the batch's idempotency keys whose window has passed, so the insert that follows can
 * give them to new tasks. An UPDATE of the holders' rows: concurrent creates of one expired key
 * serialise on its row, and the unique index gives the key to one new task (the other create then
 * finds that task). Only on the path that resolves taken keys: a free key never comes here.
 */
const RELEASE_EXPIRED_KEYS = `
update tasks set idempotency_key = null, updated_at = now()
where idempotency_key = any($1::text[]) and idempotency_expires_at <= coalesce($2::timestamptz, now())`;

async function releaseExpiredKeys(tx: Queryable, tasks: Prepared[], now: Date | null): Promise<void> {
  const keys = tasks.map((t) => t.idempotencyKey).filter((k): k is string => typeof k === 'string');
  if (keys.length > 0) await tx.query(RELEASE_EXPIRED_KEYS, [keys, now]);
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
  const where = (i: number) => (input.length === 1 && !session ? '' : `tasks[${i}].`);
  for (const [i, t] of input.entries()) {
    checkNewTask(t, where(i));
    // Keyed creates go through insertWithFlowKeys, which hands this function plain tasks only.
    if (hasFlowKey(t)) {
      const field = t.debounce ? 'debounce' : 'throttle';
      throw new ValidationError(
        session ? `${where(i)}${field} is not for session tasks` : `${where(i)}${field} needs createTasks`,
        { field: `${where(i)}${field}` },
      );
    }
  }
  const prepared: Prepared[] = input.map((t, i) =>
    session
      ? { ...t, id: t.id ?? newId(), sessionId: session.id, sessionIndex: session.startIndex + i }
      : { ...t, id: t.id ?? newId(), sessionIndex: undefined },
  );
  if (!ctx.allOrNothing) await releaseExpiredKeys(tx, prepared, ctx.now ?? null);
  if (session) afterToDependsOn(input as NewSessionTask[], prepared);
  const waits = prepared.some(hasWait);
  if (waits) checkAcyclic(prepared, where, session ? 'after' : 'dependsOn');
  const batch = JSON.stringify(prepared, omitAfter);
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
    if (ctx.allOrNothing && SOME_EXIST.has((err as { code?: string }).code ?? '')) {
      throw new SomeTasksExistError();
    }
    throw err;
  }

  const byId = new Map<string, Task>();
  const backoff = backoffParser();
  // Rows come back in input order when every task was new (the common case); else by id, where
  // the first of repeated ids is the one inserted.
  const inOrder = inserted.length === prepared.length && inserted.every((r, i) => r.id === prepared[i]!.id);
  let preparedById: Map<string, Prepared> | null = null;
  if (!inOrder) {
    preparedById = new Map();
    for (const p of prepared) if (!preparedById.has(p.id)) preparedById.set(p.id, p);
  }
  for (const [i, row] of inserted.entries()) {
    const p = inOrder ? prepared[i]! : preparedById!.get(row.id)!;
    byId.set(row.id, insertedTask(p, row, backoff(row.backoff)));
  }
  if (waits) {
    const created: Array<{ task: NewTask; seq: number; where: string }> = [];
    for (const [i, p] of prepared.entries()) {
      const t = byId.get(p.id);
      if (t && hasWait(p) && !created.some((c) => c.seq === t.seq))
        created.push({ task: p, seq: t.seq, where: where(i) });
    }
    const statuses = await waitOnCreate(tx, created);
    for (const t of byId.values()) t.status = statuses.get(t.seq) ?? t.status;
  }
  // Tasks that run later wake no one now (insert_tasks picks the same ones: run-at not after creation).
  const runnable = [...byId.values()].filter(
    (t) => t.status === 'queued' && t.runAt.getTime() <= t.createdAt.getTime(),
  );
  if (channel) workNotified(tx, runnable);
  else await notifyWork(tx, runnable);
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
  const missing = prepared.filter((p) => !byId.has(p.id));
  let existing: Task[] = [];
  if (missing.length > 0) {
    const res = await tx.query<TaskRow>(FIND_EXISTING, [
      missing.map((p) => p.id),
      missing.map((p) => p.idempotencyKey).filter((k) => k !== undefined),
      session?.id ?? null,
      missing.map((p) => p.sessionIndex).filter((k) => k !== undefined),
    ]);
    existing = res.rows.map(rowToTask);
  }
  const seen = new Set<string>();
  for (const p of prepared) {
    const fresh = byId.get(p.id);
    if (fresh && !seen.has(fresh.id)) {
      seen.add(fresh.id);
      tasks.push(fresh);
      outcomes.push('created');
      continue;
    }
    const found =
      fresh ??
      existing.find((t) => t.id === p.id) ??
      existing.find((t) => p.idempotencyKey !== undefined && t.idempotencyKey === p.idempotencyKey) ??
      existing.find(
        (t) => session !== undefined && t.sessionId === session.id && t.sessionIndex === p.sessionIndex,
      );
    if (!found) {
      // The row that blocked the insert was deleted in between: treat as a conflict the caller may retry.
      throw new ValidationError(`task ${p.id} conflicts with a task that no longer exists; send it again`);
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
