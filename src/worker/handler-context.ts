import { NonRetryableError, RateLimitedError, ValidationError } from '../core/errors.js';
import { MAX_JSON_DEPTH } from '../core/json-limits.js';
import type { DependencyFailurePolicy, WaitTimeoutPolicy } from '../core/states.js';
import type { Logger } from '../engine/logger.js';
import type { CallerClient } from '../store/caller-transaction.js';
import type { ChildResult, ClaimedTask, Json, NewTask, TaskError, WakeInfo } from '../store/types.js';
import type { HandlerDefinition, TaskContext } from './types.js';

/** One task this worker holds, from claim until its outcome is reported. */
export interface Running {
  task: ClaimedTask;
  /** Made when the handler first reads ctx.signal or the task is aborted; most tasks never need one. */
  controller: AbortController | null;
  lost: boolean;
  timer?: NodeJS.Timeout;
  /** ctx.completeInTransaction wrote the completion on the handler's transaction: no report follows. */
  completedInTransaction?: boolean;
}

export function controllerOf(entry: Running): AbortController {
  entry.controller ??= new AbortController();
  return entry.controller;
}
export interface ContextActions {
  /** Records progress; an attempt that lost its lease is aborted. */
  progress(task: ClaimedTask, entry: Running, value: Json): Promise<void>;
  setState(state: Json): Promise<void>;
  completeInTransaction(task: ClaimedTask, entry: Running, client: CallerClient, result: Json): Promise<void>;
  spawn(task: ClaimedTask, children: NewTask[], onChildFailure?: DependencyFailurePolicy): Promise<void>;
  waitForSignal(
    task: ClaimedTask,
    opts: { timeoutMs?: number; onTimeout?: WaitTimeoutPolicy },
  ): Promise<void>;
}

/**
 * Thrown by spawnAndWait and waitForSignal once the store has the task waiting: the attempt ended
 * there, so the worker reports nothing more for it.
 */
export class AttemptWaits extends Error {
  override name = 'AttemptWaits';
}

/** How the task's last wait ended, as the store marked it in its metadata (migration 0008). */
export function wakeOf(task: ClaimedTask): WakeInfo | null {
  const w = task.metadata?.['gaffer.wake'] as WakeInfo | undefined;
  return w && typeof w === 'object' && typeof w.kind === 'string' ? w : null;
}

/** What a handler gets with its payload: one object per task, its methods on the prototype. */
export class HandlerContext implements TaskContext {
  readonly attempt: number;
  readonly workerId: string;
  readonly wake: WakeInfo | null;

  constructor(
    private readonly actions: ContextActions,
    readonly task: ClaimedTask,
    private readonly entry: Running,
    private readonly logger: () => Logger,
    readonly childResults: ChildResult[] | undefined = undefined,
  ) {
    this.attempt = task.attempt;
    this.workerId = task.workerId;
    this.wake = wakeOf(task);
  }

  get signalData(): Json | undefined {
    return this.wake?.kind === 'signal' ? this.wake.data : undefined;
  }

  get waitTimedOut(): boolean {
    return this.wake?.kind === 'timeout';
  }

  async spawnAndWait(
    children: NewTask[],
    opts: { onChildFailure?: DependencyFailurePolicy } = {},
  ): Promise<never> {
    await this.actions.spawn(this.task, children, opts.onChildFailure);
    throw new AttemptWaits(`task ${this.task.id} waits for ${children.length} children`);
  }

  async waitForSignal(opts: { timeoutMs?: number; onTimeout?: WaitTimeoutPolicy } = {}): Promise<never> {
    await this.actions.waitForSignal(this.task, opts);
    throw new AttemptWaits(`task ${this.task.id} waits for a signal`);
  }

  get signal(): AbortSignal {
    return controllerOf(this.entry).signal;
  }

  get log(): Logger {
    return this.logger();
  }

  progress(value: Json): Promise<void> {
    return this.actions.progress(this.task, this.entry, value);
  }

  setState(state: Json): Promise<void> {
    return this.actions.setState(state);
  }

  async completeInTransaction(client: CallerClient, result?: unknown): Promise<void> {
    return this.actions.completeInTransaction(this.task, this.entry, client, toJson(result));
  }

  rateLimited(retryAfterMs: number, reason?: string): never {
    throw new RateLimitedError(retryAfterMs, reason);
  }
}

export class CancelAbort extends Error {
  override name = 'CancelledError';
}
export class TimeoutAbort extends Error {
  override name = 'TimeoutError';
}
export class LeaseLostAbort extends Error {
  override name = 'LeaseLostError';
}
export class ShutdownAbort extends Error {
  override name = 'ShutdownError';
}

export function toTaskError(err: unknown, signal: AbortSignal | undefined): TaskError {
  const reason = signal?.aborted ? signal.reason : undefined;
  if (reason instanceof CancelAbort)
    return { message: reason.message, name: 'CancelledError', kind: 'cancelled' };
  if (reason instanceof TimeoutAbort)
    return { message: reason.message, name: 'TimeoutError', retryable: true, kind: 'timeout' };
  if (reason instanceof ShutdownAbort)
    return { message: reason.message, name: 'ShutdownError', retryable: true };
  const e = err instanceof Error ? err : new Error(String(err));
  const retryable = !(e instanceof NonRetryableError) && (e as { retryable?: boolean }).retryable !== false;
  return { message: e.message.slice(0, 4000), name: e.name, retryable, stack: e.stack?.slice(0, 4000) };
}

export function toJson(v: unknown, field = 'result'): Json {
  if (v === undefined) return null;
  let text: string;
  try {
    text = JSON.stringify(v);
  } catch (err) {
    // Thousands of levels deep: JSON.stringify runs out of stack. Say so with the limit, not the stack.
    if (err instanceof RangeError && /call stack/i.test(err.message))
      throw new ValidationError(
        `${field} nests deeper than ${MAX_JSON_DEPTH} levels of objects and arrays (the limit)`,
        { field },
      );
    throw err;
  }
  return (text === undefined ? null : JSON.parse(text)) as Json;
}
/** The payload as the handler's schema reads it; a payload that does not match fails as non-retryable (a poison message). */
export function parsePayload(def: HandlerDefinition, task: ClaimedTask): unknown {
  if (!def.schema) return task.payload;
  const parsed = def.schema.safeParse(task.payload);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue?.path.length ? issue.path.join('.') : 'payload';
  throw new NonRetryableError(
    `payload is invalid at ${where}: ${issue?.message ?? 'does not match the schema'}`,
  );
}

/** The task's logger, made on first use: a pino child per task costs more than a no-op handler. */
export function lazyTaskLogger(parent: Logger, task: ClaimedTask, workerId: string | null): () => Logger {
  let taskLog: Logger | undefined;
  return () =>
    (taskLog ??= parent.child({
      taskId: task.id,
      type: task.type,
      sessionId: task.sessionId ?? undefined,
      workerId,
      attempt: task.attempt,
    }));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)));
}
