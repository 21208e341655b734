import type { SessionStatus } from '../core/states.js';
import type { CallerClient } from './caller-transaction.js';
import type { FlowControl, FlowTarget, SetLimitsParams } from './flow-types.js';
import type {
  Alert,
  AlertStatus,
  MetricsSnapshot,
  StoreEventListener,
  SyncAlertsParams,
  SyncAlertsResult,
} from './observability.js';
import type {
  FireSchedulesParams,
  FireSchedulesResult,
  Schedule,
  ScheduleEvent,
  UpsertScheduleParams,
  UpsertScheduleResult,
} from './schedule-types.js';
import type { ThroughputPoint } from './sql/queries.js';
import type {
  AttemptRef,
  BulkResult,
  ChildResult,
  ClaimedTask,
  ClaimSessionTaskParams,
  ClaimTasksParams,
  CompleteItem,
  CompleteTasksResult,
  CreateSessionParams,
  CreateSessionResult,
  CreateTasksParams,
  CreateTasksResult,
  FailTaskParams,
  HeartbeatParams,
  HeartbeatResult,
  Json,
  ListTasksParams,
  ListWorkersParams,
  Page,
  PruneParams,
  PruneResult,
  QueueStat,
  RateLimitParams,
  RegisterWorkerParams,
  RescueResult,
  RetryTaskParams,
  Session,
  SessionEntry,
  SpawnChildrenParams,
  Task,
  TaskEvent,
  TaskFilter,
  TaskGraph,
  TaskTypeConfig,
  UpsertTaskTypeParams,
  WaitForSignalParams,
  WaitReason,
  WakeListener,
  Worker,
  WorkerCounts,
  WorkerEvent,
} from './types.js';

/**
 * Every operation Gaffer performs on its data, as named domain operations.
 * Each state change is one transaction that also appends to the history.
 * Both drivers (PostgreSQL over `pg`, embedded PGlite) run the same SQL through
 * this one implementation; conformance tests in store/conformance hold them to it.
 */
export interface Store {
  readonly kind: 'postgres' | 'pglite';
  readonly options: Readonly<StoreOptions>;

  // Tasks
  createTasks(params: CreateTasksParams): Promise<CreateTasksResult>;
  getTask(id: string): Promise<Task>;
  findTask(id: string): Promise<Task | null>;
  listTasks(params: ListTasksParams): Promise<Page<Task>>;
  countTasks(filter: TaskFilter): Promise<Record<string, number>>;
  /** Why a task is not running (null while it runs or once it finished); NotFoundError if there is none. */
  waitingOn(taskId: string): Promise<WaitReason[] | null>;
  getTaskEvents(taskId: string, params?: { limit?: number; afterId?: number }): Promise<TaskEvent[]>;
  cancelTask(params: { taskId: string; by?: string; reason?: string }): Promise<Task>;
  cancelTasks(params: { filter: TaskFilter; by?: string; reason?: string }): Promise<BulkResult>;
  retryTask(params: RetryTaskParams): Promise<Task>;
  retryTasks(params: { filter: TaskFilter; by?: string; reason?: string }): Promise<BulkResult>;
  deleteTask(id: string): Promise<void>;
  deleteTasks(filter: TaskFilter): Promise<number>;

  // Workflows: dependencies, children, signals (migration 0008)
  /** What a task waits for, its dependencies and dependents, its parent and children. */
  getTaskGraph(taskId: string): Promise<TaskGraph>;
  /** The children the parent's attempt `round` spawned, with their results or errors. */
  getChildResults(params: { taskId: string; round: number }): Promise<ChildResult[]>;
  /** Completes a signal wait: the task becomes runnable with `data`. ConflictError if it does not wait for one. */
  signalTask(params: { taskId: string; data?: Json }): Promise<Task>;
  /** Ends the signal waits whose timeout passed, per their policy (the maintenance sweep runs it). */
  expireWaits(params?: { now?: Date }): Promise<{ failed: string[]; run: string[] }>;

  // Task types
  upsertTaskType(params: UpsertTaskTypeParams): Promise<TaskTypeConfig>;
  getTaskType(type: string): Promise<TaskTypeConfig | null>;
  listTaskTypes(): Promise<TaskTypeConfig[]>;

  // Claiming and reporting (the worker side)
  claimTasks(params: ClaimTasksParams): Promise<ClaimedTask[]>;
  claimSessionTask(params: ClaimSessionTaskParams): Promise<ClaimedTask>;
  completeTasks(items: CompleteItem[]): Promise<CompleteTasksResult>;
  /** Completes one attempt in the caller's open transaction on `client` (PostgreSQL); LeaseLostError when it no longer holds the task. */
  completeTaskInTransaction(client: CallerClient, item: CompleteItem): Promise<void>;
  /** How a worker's heartbeat thread connects on its own (PostgreSQL); null when it cannot (embedded store). */
  threadConnection?(): ThreadConnectionSpec | null;
  failTask(params: FailTaskParams): Promise<Task>;
  handBackTasks(items: AttemptRef[]): Promise<string[]>;
  /**
   * The running attempt creates children and ends, unspent: the task waits (holding no worker) until
   * they all finished, then runs again. Fenced like every worker write; refused past the depth limit.
   */
  spawnChildren(params: SpawnChildrenParams): Promise<{ parent: Task; children: Task[] }>;
  /** The running attempt ends, unspent, and the task waits for signalTask (or its timeout). */
  waitForSignal(params: WaitForSignalParams): Promise<Task>;
  /**
   * The handler met a rate limit: the attempt goes back to `queued`, runnable at now + retryAfterMs,
   * without spending an attempt (a hand-back with a later run time; history event `rate_limited`).
   * LeaseLostError when the attempt no longer holds the task. Answers the time it runs again.
   */
  rateLimitTask(params: RateLimitParams): Promise<{ until: Date }>;
  extendLease(params: AttemptRef & { leaseMs?: number }): Promise<Date>;
  reportProgress(params: AttemptRef & { progress: Json }): Promise<void>;

  // Flow control (migration 0012): enforced by claims, in their own transaction, across every server
  /** Sets every limit of a queue or type (one left out or null is removed). */
  setLimits(params: SetLimitsParams): Promise<FlowControl>;
  /** Removes a queue's or type's limits (a pause stays); false when it had none. */
  clearLimits(params: FlowTarget): Promise<boolean>;
  /** Nothing of the queue or type is claimed until resume; running tasks finish. */
  pauseFlow(params: FlowTarget & { by?: string }): Promise<FlowControl>;
  /** Claims take the queue or type again; its control (or null when none is left). */
  resumeFlow(params: FlowTarget): Promise<FlowControl | null>;
  /** The controls with what each holds back now; cost grows with controls and running tasks only. */
  listFlowControls(params?: Partial<FlowTarget>): Promise<FlowControl[]>;

  // Sessions
  createSession(params: CreateSessionParams): Promise<CreateSessionResult>;
  getSession(id: string): Promise<Session>;
  getSessionTasks(id: string): Promise<Task[]>;
  listSessions(params: {
    key?: string;
    userId?: string;
    status?: SessionStatus;
    limit?: number;
    cursor?: string;
  }): Promise<Page<Session>>;
  deleteSession(id: string): Promise<void>;
  cancelSession(params: { sessionId: string; by?: string; reason?: string }): Promise<BulkResult>;
  retrySessionFailed(params: { sessionId: string; by?: string; reason?: string }): Promise<BulkResult>;
  /** Seed 001: open entries of a key. */
  listOpenEntries(key: string): Promise<SessionEntry[]>;
  getEntry(taskId: string): Promise<SessionEntry | null>;
  /** Release held entries: one task's, or every entry of a key and type. Returns how many were released. */
  releaseEntries(params: { taskId: string } | { key: string; type: string }): Promise<number>;

  // Schedules: a task per tick, one per tick across every server (see sql/schedule-fire.ts)
  upsertSchedule(params: UpsertScheduleParams): Promise<UpsertScheduleResult>;
  getSchedule(name: string): Promise<Schedule>;
  listSchedules(params?: { limit?: number; cursor?: string; paused?: boolean }): Promise<Page<Schedule>>;
  deleteSchedule(name: string): Promise<void>;
  pauseSchedule(params: { name: string; now?: Date }): Promise<Schedule>;
  resumeSchedule(params: { name: string; now?: Date }): Promise<Schedule>;
  getScheduleEvents(name: string, params?: { limit?: number }): Promise<ScheduleEvent[]>;
  /** Fires the due schedules (every server's scheduler calls it; safe at once from many). */
  fireDueSchedules(params?: FireSchedulesParams): Promise<FireSchedulesResult>;

  // Workers
  registerWorker(params: RegisterWorkerParams): Promise<Worker>;
  heartbeat(params: HeartbeatParams): Promise<HeartbeatResult>;
  /** Many workers' heartbeats in one statement (group commit); answers in the same order. */
  heartbeats(params: HeartbeatParams[]): Promise<HeartbeatResult[]>;
  setWorkerState(params: { workerId: string; state: Json }): Promise<void>;
  recordWorkerEvent(params: { workerId: string; kind: string; data?: Json }): Promise<void>;
  deregisterWorker(params: { workerId: string }): Promise<void>;
  getWorker(id: string): Promise<Worker>;
  /** Every worker the filter names, newest first (all pages of listWorkersPage). */
  listWorkers(params?: { includeStale?: boolean; machineId?: string }): Promise<Worker[]>;
  /** One page of workers, newest registration first; pass nextCursor back for the next. */
  listWorkersPage(params?: ListWorkersParams): Promise<Page<Worker>>;
  /** Live and stale workers counted by the database, whatever the size of the fleet. */
  countWorkers(): Promise<WorkerCounts>;
  getWorkerEvents(workerId: string, params?: { limit?: number }): Promise<WorkerEvent[]>;
  deleteWorker(id: string): Promise<void>;

  // Maintenance (safe to call from any node; leader-only callers use tryLeadership)
  rescueLeases(params?: { now?: Date }): Promise<RescueResult>;
  markStaleWorkers(params?: { now?: Date }): Promise<string[]>;
  prune(params: PruneParams): Promise<PruneResult>;
  /**
   * Folds the task counters of database connections that are gone into one row per count, so
   * reading a count stays as cheap as the counts are few; returns the rows folded. The sweep runs it.
   */
  foldCounts(): Promise<number>;
  /** Runs fn only if no other node holds the named lock; returns null when another node does. */
  tryLeadership<T>(name: string, fn: () => Promise<T>): Promise<T | null>;
  queueStats(): Promise<QueueStat[]>;
  /** Tasks completed and failed per minute over the last `minutes` (default 60) minutes, oldest first. */
  throughput(params?: { minutes?: number; now?: Date }): Promise<ThroughputPoint[]>;

  // API tokens (R9): only the sha256 of a secret is stored; the secret is returned once, at creation.
  /** Worker tokens may be scoped to queues and types: their workers then claim only inside both. */
  createToken(params: CreateTokenParams): Promise<CreatedToken>;
  /** The active (not revoked) token with this secret, or null. */
  verifyToken(secret: string): Promise<ApiToken | null>;
  listTokens(): Promise<ApiToken[]>;
  /** Refuses (409 conflict) to revoke the last active admin token unless `force`. */
  revokeToken(id: string, opts?: { force?: boolean }): Promise<void>;
  /** True when any active token exists (the server then requires one on every API call). */
  hasTokens(): Promise<boolean>;
  /** Binds a worker to the token that registered it, so a worker token acts only through its own workers. */
  bindWorkerToken(params: { workerId: string; tokenId: string }): Promise<void>;
  /** The token bound to a worker; null when none, undefined when the worker does not exist. */
  getWorkerTokenId(workerId: string): Promise<string | null | undefined>;

  /** Wake-ups: called when runnable work may have appeared in a queue (in-process and, on PostgreSQL, cross-process). */
  onWake(listener: WakeListener): () => void;

  // Observability (R7)
  /**
   * Domain events of this process's store calls, delivered after commit (see observability.ts).
   * In process only: other nodes' work is not seen. Returns the unsubscribe.
   */
  onEvent(listener: StoreEventListener): () => void;
  /** Depth, waiting work, dead letters and workers in one statement: the gauges and alert rules read this. */
  metricsSnapshot(params?: { now?: Date }): Promise<MetricsSnapshot>;
  /** Alerts, firing first, newest first. */
  listAlerts(params?: { status?: AlertStatus; limit?: number }): Promise<Alert[]>;
  /** Records one evaluation of the alert rules: new findings fire, firing alerts not found resolve. */
  syncAlerts(params: SyncAlertsParams): Promise<SyncAlertsResult>;

  migrate(): Promise<string[]>;
  /**
   * Embedded store: records the URL of the server running on it in the data directory's lock
   * file, so admin commands (`gaffer token ...`) go through that server instead of opening it.
   */
  advertiseServer?(url: string): void;
  close(): Promise<void>;
}

export type TokenRole = 'admin' | 'producer' | 'worker';

export interface ApiToken {
  id: string;
  name: string;
  role: TokenRole;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  /** Worker tokens only: the queues its workers may claim from; null: any. */
  queues: string[] | null;
  /** Worker tokens only: the task types its workers may claim; null: any. */
  types: string[] | null;
}

export interface CreateTokenParams {
  name: string;
  role: TokenRole;
  /** Worker tokens only: scope to these queues (omitted or null: any queue). */
  queues?: string[] | null;
  /** Worker tokens only: scope to these task types (omitted or null: any type). */
  types?: string[] | null;
}

/** A token as created: the only time its secret is known. */
export interface CreatedToken extends ApiToken {
  token: string;
}

/** A PostgreSQL connection another thread can open: the same database, schema and settings. */
export interface ThreadConnectionSpec {
  connectionString: string;
  applicationName: string;
  schema: string;
  leaseMs: number;
  staleAfterMs: number;
}

export interface StoreOptions {
  /** Default lease given to a claim; extended by heartbeats. */
  leaseMs: number;
  /** A worker with no heartbeat for this long is stale. */
  staleAfterMs: number;
  /** Default max attempts of a task whose type and request name none. */
  maxAttempts: number;
  /** Manual retries allowed per task. */
  manualRetryLimit: number;
  /** Database schema holding Gaffer's tables. */
  schema: string;
}

export const DEFAULT_STORE_OPTIONS: StoreOptions = {
  leaseMs: 30_000,
  staleAfterMs: 60_000,
  maxAttempts: 3,
  manualRetryLimit: 3,
  schema: 'gaffer',
};
