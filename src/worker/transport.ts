import type { DependencyFailurePolicy, WaitTimeoutPolicy } from '../core/states.js';
import type { CallerClient } from '../store/caller-transaction.js';
import type {
  AttemptRef,
  ChildResult,
  ClaimedTask,
  HeartbeatResult,
  Json,
  LivenessReport,
  NewTask,
  RegisterWorkerParams,
  TaskError,
  WorkerStats,
} from '../store/types.js';
import type { ThreadConnection } from './heartbeat-thread-types.js';

export type AttemptState = 'completed' | 'running' | 'gone';

export interface Registration {
  workerId: string;
  /** The server's lease and stale settings, so the worker heartbeats often enough. */
  leaseMs: number;
  staleAfterMs: number;
}

/**
 * What a Worker needs from Gaffer. Two implementations: straight to the store
 * (DirectTransport) and over the HTTP worker protocol (HttpTransport). The
 * handler API on top is the same.
 */
export interface WorkerTransport {
  register(p: RegisterWorkerParams): Promise<Registration>;
  heartbeat(p: {
    workerId: string;
    held: AttemptRef[];
    state?: Json;
    stats?: WorkerStats;
    liveness?: LivenessReport;
  }): Promise<HeartbeatResult>;
  /** Claims up to `limit` tasks, waiting up to `waitMs` for work to arrive; returns early when `signal` aborts. */
  claim(p: {
    workerId: string;
    types: string[];
    queues?: string[];
    limit: number;
    waitMs: number;
    signal: AbortSignal;
  }): Promise<ClaimedTask[]>;
  claimSessionTask(p: { workerId: string; sessionId: string; index?: number }): Promise<ClaimedTask>;
  /**
   * Resolves true when the completion was applied, false when the attempt had lost its lease.
   * `seq` (from the claim) lets the store find the task without its id index.
   */
  complete(p: AttemptRef & { result: Json; seq?: number }): Promise<boolean>;
  /** Resolves false when the attempt had lost its lease. */
  fail(p: AttemptRef & { error: TaskError }): Promise<boolean>;
  progress(p: AttemptRef & { progress: Json }): Promise<boolean>;
  /**
   * Completes the attempt inside the caller's open transaction on `client`; rejects with
   * LeaseLostError when the attempt no longer holds the task. Only a transport that writes to the
   * database itself has it (DirectTransport over PostgreSQL).
   */
  completeInTransaction?(client: CallerClient, p: AttemptRef & { result: Json; seq?: number }): Promise<void>;
  /** Where an attempt stands: completed by it, still running on it, or neither (lost, or taken away). */
  attemptState?(p: AttemptRef): Promise<AttemptState>;
  /** A connection of its own for the heartbeat thread, or null: heartbeats then run on the event loop. */
  threadConnection?(): ThreadConnection | null;
  setState(p: { workerId: string; state: Json }): Promise<void>;
  handBack(items: AttemptRef[]): Promise<void>;
  /**
   * The handler met a rate limit: the task goes back to the queue for `retryAfterMs` without spending
   * its attempt. Resolves false when the attempt had lost its lease.
   */
  rateLimited(p: AttemptRef & { retryAfterMs: number; reason?: string }): Promise<boolean>;
  /**
   * Workflows (ctx.spawnAndWait / ctx.waitForSignal): the attempt ends, unspent, and the task waits.
   * Optional so transports written before them still type-check; the built-in two have them.
   */
  spawn?(p: AttemptRef & { children: NewTask[]; onChildFailure?: DependencyFailurePolicy }): Promise<void>;
  waitForSignal?(p: AttemptRef & { timeoutMs?: number; onTimeout?: WaitTimeoutPolicy }): Promise<void>;
  /** How the children of round `round` ended, for the attempt that resumes after them. */
  childResults?(p: AttemptRef & { round: number }): Promise<ChildResult[]>;
  deregister(p: { workerId: string }): Promise<void>;
  close(): Promise<void>;
}
