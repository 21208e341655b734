import type { BackoffPolicy } from '../core/backoff.js';
import type { LivenessReport } from '../core/liveness.js';
import type {
  AttemptOutcome,
  DependencyFailurePolicy,
  TaskStatus,
  TrackingPolicy,
  WaitTimeoutPolicy,
} from '../core/states.js';
import type { Session } from './admin-types.js';
import type { Json } from './json.js';
import type { WaitFilter } from './wait-types.js';
import type { WorkerStats } from './worker-types.js';

export type { LivenessReport, WorkerLiveness } from '../core/liveness.js';
export type * from './admin-types.js';
export type { Json } from './json.js';
export type * from './schedule-types.js';
export type * from './wait-types.js';
export type * from './worker-types.js';

export interface TaskError {
  message: string;
  name?: string;
  retryable?: boolean;
  /** Why the attempt ended: failed (handler threw), timeout, lost (lease lapsed), cancelled. */
  kind?: AttemptOutcome;
  stack?: string;
}

export interface RetryHistoryEntry {
  /** The attempt number the retry will run as. */
  attempt: number;
  at: string;
  by: string;
  reason: string | null;
  /** Filled in when that retry's run ends: completed, failed or cancelled. */
  outcome: 'completed' | 'failed' | 'cancelled' | null;
}

export interface Task {
  id: string;
  seq: number;
  type: string;
  queue: string;
  status: TaskStatus;
  payload: Json;
  priority: number;
  runAt: Date;
  /** Attempts started so far; the current attempt number, used as the fencing token. */
  attempt: number;
  maxAttempts: number;
  /** Attempts that count against maxAttempts start after this one (raised by manual retries). */
  attemptFloor: number;
  timeoutMs: number | null;
  backoff: BackoffPolicy;
  idempotencyKey: string | null;
  /** When the key's window ends (idempotencyTtlMs); null: the key holds for ever. */
  idempotencyExpiresAt: Date | null;
  sessionId: string | null;
  sessionIndex: number | null;
  key: string | null;
  userId: string | null;
  metadata: Record<string, Json>;
  workerId: string | null;
  machineId: string | null;
  leaseExpiresAt: Date | null;
  result: Json | null;
  error: TaskError | null;
  progress: Json | null;
  manualRetries: number;
  retryHistory: RetryHistoryEntry[];
  avoidMachineId: string | null;
  avoidLabels: Record<string, string> | null;
  cancelRequested: boolean;
  tracking: TrackingPolicy;
  entryReleasedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  /** The task whose handler spawned this one (ctx.spawnAndWait); null for a root task. */
  parentId: string | null;
  /** 0 for a root task, the parent's depth + 1 for a child. */
  depth: number;
  /** Flow control: limits per key count the running tasks that carry the same key (a tenant, a provider). */
  concurrencyKey: string | null;
}

/**
 * A task as a claim hands it to a worker: what a handler needs to run it. The task's history and
 * policy (backoff, manual retries, result, progress) stay on the full Task (`getTask`).
 */
export type ClaimedTask = Pick<
  Task,
  | 'id'
  | 'seq'
  | 'type'
  | 'queue'
  | 'payload'
  | 'priority'
  | 'runAt'
  | 'attempt'
  | 'maxAttempts'
  | 'timeoutMs'
  | 'idempotencyKey'
  | 'sessionId'
  | 'sessionIndex'
  | 'key'
  | 'userId'
  | 'metadata'
  | 'createdAt'
  | 'concurrencyKey'
> & {
  /** The worker that claimed it; with `attempt`, what every report on it carries. */
  workerId: string;
  leaseExpiresAt: Date;
  startedAt: Date;
};

export interface NewTask {
  type: string;
  payload?: Json;
  id?: string;
  queue?: string;
  idempotencyKey?: string;
  /**
   * How long the key holds (from creation): after it, a create with the same key makes a new task
   * (and the old one lets the key go). Omitted: for ever.
   */
  idempotencyTtlMs?: number;
  sessionId?: string;
  /** Session key (seed 001's short_id). Inherited from the session when the task is part of one. */
  key?: string;
  userId?: string;
  priority?: number;
  runAt?: Date;
  delayMs?: number;
  maxAttempts?: number;
  timeoutMs?: number;
  backoff?: Partial<BackoffPolicy>;
  metadata?: Record<string, Json>;
  /** Flow control: a key (a tenant, a provider) whose running tasks a per-key limit counts. */
  concurrencyKey?: string;
  /**
   * One waiting task per (type, key): a create while one waits (queued, not yet running) replaces
   * its payload and pushes its run time to now + ms, answering that task (outcome `debounced`).
   * The task runs `ms` after the last create of its key.
   */
  debounce?: FlowKey;
  /**
   * At most one task per (type, key) per window of `ms` from the create that made it: later creates
   * in the window answer that task (outcome `throttled`) and create nothing.
   */
  throttle?: FlowKey;
  /**
   * Ids of tasks this one waits for: it stays `waiting` until all of them completed. They may be
   * existing tasks or tasks of the same create call (a cycle among those is refused).
   */
  dependsOn?: string[];
  /** When a dependency ends failed or cancelled: cancel this task (default) or run it anyway. */
  onDependencyFailure?: DependencyFailurePolicy;
  /** Wait for `client.signal(id, data)` before running; on timeout fail (default) or run. */
  waitFor?: SignalWait;
}

export interface SignalWait {
  signal: true;
  timeoutMs?: number;
  onTimeout?: WaitTimeoutPolicy;
}

/** A session's task: a task, plus the indexes (positions in the call's tasks) it runs after. */
export interface NewSessionTask extends NewTask {
  after?: number[];
}

/** The outcome of one child, as the parent's next attempt reads it (ctx.childResults). */
export interface ChildResult {
  id: string;
  type: string;
  status: TaskStatus;
  result: Json | null;
  error: TaskError | null;
}

export interface SpawnChildrenParams extends AttemptRef {
  children: NewTask[];
  /** When a child ends failed or cancelled: run the parent anyway with the errors (default) or cancel it. */
  onChildFailure?: DependencyFailurePolicy;
}

export interface WaitForSignalParams extends AttemptRef {
  timeoutMs?: number;
  onTimeout?: WaitTimeoutPolicy;
}

/** A debounce or throttle key and its window. */
export interface FlowKey {
  key: string;
  ms: number;
}

/**
 * What became of one requested task in a create call: `debounced` (the key's waiting task took the
 * new payload and run time) and `throttled` (the key's task of this window) answer an existing task.
 */
export type CreateOutcome = 'created' | 'existing' | 'retried' | 'retry_refused' | 'debounced' | 'throttled';

export interface CreateTasksParams {
  tasks: NewTask[];
  /** Re-sending an id whose task is failed or cancelled retries it (seed 000). */
  retry?: boolean;
  by?: string;
  /** The time of debounce and throttle windows (tests move it instead of sleeping); default the database's now. */
  now?: Date;
}

export interface CreateTasksResult {
  tasks: Task[];
  outcomes: CreateOutcome[];
}

export interface TaskFilter {
  status?: TaskStatus | TaskStatus[];
  type?: string | string[];
  queue?: string | string[];
  sessionId?: string;
  key?: string;
  userId?: string;
  workerId?: string;
  createdAfter?: Date;
  createdBefore?: Date;
  /** Substring of the last error's message (for redrive after an incident). */
  errorContains?: string;
  ids?: string[];
  /** Tasks that wait for this reason (see WaitReason). */
  waitingOn?: WaitFilter;
  /** Set by the store, not by callers: how recent a heartbeat keeps a worker live for `waitingOn`. */
  liveWithinMs?: number;
}

export interface ListTasksParams extends TaskFilter {
  limit?: number;
  /** Opaque cursor from a previous page's nextCursor. */
  cursor?: string;
  /** Newest first by default; 'asc' lists oldest first. Session tasks list by index. */
  order?: 'asc' | 'desc';
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface TaskEvent {
  /** Position in the task's history, from 1; pass the last one seen as `afterId` for the events after it. */
  id: number;
  taskId: string;
  attempt: number;
  kind: string;
  at: Date;
  workerId: string | null;
  data: Record<string, Json> | null;
}

export interface CreateSessionParams {
  id?: string;
  key?: string;
  userId?: string;
  metadata?: Record<string, Json>;
  /** Tasks in index order: tasks[i] gets session index i, for ever. */
  tasks: Omit<NewSessionTask, 'sessionId' | 'key' | 'userId'>[];
  /** Defaults for every task of the session. */
  queue?: string;
  by?: string;
}

export interface CreateSessionResult {
  session: Session;
  tasks: Task[];
  outcomes: CreateOutcome[];
  /** False when the session existed already (a re-send). */
  created: boolean;
}

export interface ClaimTasksParams {
  workerId: string;
  types?: string[];
  queues?: string[];
  limit: number;
  leaseMs?: number;
  now?: Date;
}

export interface ClaimSessionTaskParams {
  workerId: string;
  sessionId: string;
  /** The assignment index to claim; omitted: the next free task of the session. */
  index?: number;
  leaseMs?: number;
  now?: Date;
}

export interface AttemptRef {
  taskId: string;
  attempt: number;
  /** When given, the write also requires that this worker holds the lease. */
  workerId?: string;
}

export interface CompleteItem extends AttemptRef {
  result?: Json;
  /** The task's seq, as the claim gave it: found by it rather than by id (cheaper); the id must still match. */
  seq?: number;
}

export interface CompleteTasksResult {
  completed: string[];
  /** Attempts that no longer held their lease; their completion was refused. */
  refused: AttemptRef[];
}

export interface FailTaskParams extends AttemptRef {
  error: TaskError;
  now?: Date;
}

export interface RateLimitParams extends AttemptRef {
  /** Runnable again this many milliseconds from now (0 to 7 days). */
  retryAfterMs: number;
  /** Free text for the history, e.g. the provider's answer. */
  reason?: string;
  now?: Date;
}

export interface HeartbeatParams {
  workerId: string;
  /**
   * Attempts the worker believes it holds: only these leases are renewed (all its running tasks
   * when omitted), and the reply names those it no longer holds.
   */
  held?: AttemptRef[];
  leaseMs?: number;
  state?: Json;
  stats?: WorkerStats;
  /** Event-loop lag, heartbeat thread, attempts held: kept on the worker row (the "suspected stuck" signal). */
  liveness?: LivenessReport;
  now?: Date;
}

export interface HeartbeatResult {
  /** False once the worker is stale: it must stop and register again. */
  live: boolean;
  /** Tasks of this worker whose cancellation was requested. */
  cancelled: AttemptRef[];
  /** Running tasks of this worker whose leases were extended. */
  extended: number;
  /** Of `held`, the attempts this worker no longer holds (lease lapsed, task deleted or re-leased). */
  lost: AttemptRef[];
}

export interface RetryTaskParams {
  taskId: string;
  by?: string;
  reason?: string;
  /** Keep the next attempt off the machine that ran the last failed one. */
  avoidLastMachine?: boolean;
  /** Keep the next attempt off workers carrying these labels (e.g. {provider: 'openai'}). */
  avoidLabels?: Record<string, string>;
}
