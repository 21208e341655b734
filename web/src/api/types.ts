/**
 * The API's JSON shapes. They are the store's row types with dates as ISO strings,
 * derived from src/store/types.ts so the dashboard cannot drift from the server.
 */
import type { SessionStatus, TaskStatus } from '../../../src/core/states.js';
import type * as O from '../../../src/store/observability.js';
import type * as S from '../../../src/store/types.js';

export type { SessionStatus, TaskStatus };
export type Json = S.Json;

/** A value as it crosses the wire: Date becomes an ISO string, everything else keeps its shape. */
export type Wire<T> = T extends Date
  ? string
  : T extends Json
    ? T
    : T extends (infer U)[]
      ? Wire<U>[]
      : T extends object
        ? { [K in keyof T]: Wire<T[K]> }
        : T;

export type Task = Wire<S.Task>;
export type WaitReason = S.WaitReason;
/** GET /api/v1/tasks/:id: the task and why it is not running (null while it runs or once it finished). */
export type TaskDetail = Task & { waitingOn: WaitReason[] | null };
export type TaskEvent = Wire<S.TaskEvent>;
export type TaskError = S.TaskError;
export type Session = Wire<S.Session>;
export type Worker = Wire<S.Worker>;
export type Schedule = Wire<S.Schedule>;
export type WorkerEvent = Wire<S.WorkerEvent>;
export type BulkResult = S.BulkResult;
export type QueueStat = S.QueueStat;

/** The reasons GET /api/v1/tasks filters by (`waitingOn`): the server's own list, not a copy. */
export { WAIT_FILTERS } from '../../../src/store/wait-types.js';

export const TASK_STATUSES: TaskStatus[] = [
  'waiting',
  'queued',
  'running',
  'retrying',
  'completed',
  'failed',
  'cancelled',
];
export const SESSION_STATUSES: SessionStatus[] = ['active', 'completed', 'failed', 'cancelled'];

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export type TaskCounts = Record<TaskStatus, number> & { total: number };

export interface Stats {
  counts: Partial<TaskCounts>;
  queues: QueueStat[];
  workers: { live: number; stale: number };
}

export interface WorkerDetail {
  worker: Worker;
  events: WorkerEvent[];
  currentTasks: Task[];
  recentTasks: Task[];
}

export interface SessionDetail {
  session: Session;
  tasks: Task[];
}

export interface ThroughputPoint {
  /** Start of the minute, ISO time. */
  at: string;
  completed: number;
  failed: number;
}

export interface Throughput {
  bucketMs: number;
  /** When the server started sampling; earlier minutes read zero because they were not seen. */
  since?: string;
  points: ThroughputPoint[];
}

/** An alert the maintenance leader keeps (R7.3): a rule's finding, firing until it resolves. */
export type Alert = Wire<O.Alert>;

/** Filters shared by task lists, counts and dead letters (query-string names of the API). */
export interface TaskFilter {
  status?: string;
  type?: string;
  queue?: string;
  sessionId?: string;
  key?: string;
  userId?: string;
  workerId?: string;
  errorContains?: string;
  /** Tasks waiting for this reason (GET /api/v1/tasks `waitingOn`). */
  waitingOn?: string;
}

export interface SessionFilter {
  key?: string;
  userId?: string;
  status?: string;
}

/** Flow control of a queue or task type (GET /api/v1/limits): its limits, pause, and what runs and waits. */
export interface FlowControl {
  scope: 'queue' | 'type';
  name: string;
  concurrency: number | null;
  keyConcurrency: number | null;
  rate: { limit: number; intervalMs: number } | null;
  keyRate: { limit: number; intervalMs: number } | null;
  paused: boolean;
  pausedAt: string | null;
  pausedBy: string | null;
  running: number;
  waiting: number;
  rateLimitedUntil: string | null;
  keysAtLimit: number;
  keysRateLimited: number;
}
