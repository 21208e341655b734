import type { z } from 'zod';
import type { DependencyFailurePolicy, WaitTimeoutPolicy } from '../core/states.js';
import type { Logger } from '../engine/logger.js';
import type { CallerClient } from '../store/caller-transaction.js';
import type { ChildResult, ClaimedTask, Json, NewTask, WakeInfo } from '../store/types.js';
import type { WorkerTransport } from './transport.js';

export interface TaskContext {
  task: ClaimedTask;
  attempt: number;
  workerId: string;
  /** Fires when the task is cancelled, its lease is lost, it times out, or the worker shuts down past its grace period. */
  signal: AbortSignal;
  /** Records progress (any JSON, e.g. a fraction or {done, total}); shown live in the dashboard. */
  progress(value: Json): Promise<void>;
  /** Sets the worker's free-form state (seed 002's GUI state). */
  setState(state: Json): Promise<void>;
  /**
   * Completes the task inside your own open PostgreSQL transaction on `client` (a `pg.Client` or
   * `pg.PoolClient` after `BEGIN`): your writes and the completion commit together or not at all.
   * Fenced by attempt: rejects with LeaseLostError when this attempt no longer holds the task, and
   * your transaction must then be rolled back. Commit before the handler returns; the worker then
   * reports nothing more (the handler's return value is not used). DirectTransport over PostgreSQL.
   */
  completeInTransaction(client: CallerClient, result?: unknown): Promise<void>;
  /**
   * A provider answered with its rate limit: ends the handler (it throws a RateLimitedError, which a
   * handler may also throw itself) and puts the task back in the queue, runnable again in
   * `retryAfterMs`, without spending an attempt. `reason` goes into the task's history.
   */
  rateLimited(retryAfterMs: number, reason?: string): never;
  log: Logger;
  /**
   * Creates these children and ends this attempt without spending it: the task waits, holding no
   * worker slot, until every child finished, then runs again with `ctx.childResults`. Never returns
   * (it throws a marker the worker recognises): `return ctx.spawnAndWait(...)`.
   */
  spawnAndWait(children: NewTask[], opts?: { onChildFailure?: DependencyFailurePolicy }): Promise<never>;
  /**
   * Ends this attempt without spending it: the task waits for `client.signal(id, data)`, then runs
   * again with `ctx.signalData`; on timeout it fails (default) or runs with `ctx.waitTimedOut`.
   */
  waitForSignal(opts?: { timeoutMs?: number; onTimeout?: WaitTimeoutPolicy }): Promise<never>;
  /** How the task's last wait ended, if it waited: children, signal, or timeout. */
  wake: WakeInfo | null;
  /** After spawnAndWait: each child's status and result or error, in the order they were spawned. */
  childResults: ChildResult[] | undefined;
  /** After waitForSignal (or a task created with waitFor): the signal's data. */
  signalData: Json | undefined;
  /** The signal wait timed out and the task runs anyway (onTimeout: 'run'). */
  waitTimedOut: boolean;
}

export interface HandlerDefinition<S extends z.ZodType = z.ZodType> {
  schema?: S;
  handler: (payload: z.output<S>, ctx: TaskContext) => Promise<unknown> | unknown;
}

export interface WorkerOptions {
  transport: WorkerTransport;
  /** Handlers run at once at most this many (default 10). */
  concurrency?: number;
  /** Claim up to this many extra tasks ahead of free slots (default 0); handed back unstarted on shutdown. */
  prefetch?: number;
  queues?: string[];
  machineId?: string;
  /** Slot name on the machine; a new worker with the same machine and name replaces this one at once. */
  name?: string;
  labels?: Record<string, string>;
  heartbeatMs?: number;
  /**
   * Send heartbeats from a worker thread with a connection of its own (default true), so a handler that
   * keeps the event loop busy does not let its leases lapse. Needs a transport that can open one:
   * HttpTransport, or DirectTransport over PostgreSQL opened with a connection string. On the embedded
   * store they stay on the event loop (see docs/ARCHITECTURE.md).
   */
  heartbeatThread?: boolean;
  /** Long-poll wait of one claim call (default 20 s). */
  claimWaitMs?: number;
  /** How long stop() waits for running handlers before aborting them (default 30 s). */
  shutdownGraceMs?: number;
  /** Stop gracefully on SIGTERM / SIGINT (default false; the CLI turns it on). */
  handleSignals?: boolean;
  logger?: Logger;
  version?: string;
}

export interface WorkerSummary {
  workerId: string | null;
  uptimeMs: number;
  processed: number;
  completed: number;
  failed: number;
  /** completed / processed, 0..1; 1 when nothing was processed. */
  successRate: number;
  running: number;
}

export function formatSummary(s: WorkerSummary): string {
  const up = Math.round(s.uptimeMs / 1000);
  return `gaffer worker ${s.workerId ?? '-'} stopped: uptime ${up}s, processed ${s.processed}, completed ${s.completed}, failed ${s.failed}, success rate ${(s.successRate * 100).toFixed(1)}%\n`;
}
