import { DEFAULT_BACKOFF } from '../../core/backoff.js';
import { assessLiveness, parseLivenessReport } from '../../core/liveness.js';
import type { TaskStatus, TrackingPolicy } from '../../core/states.js';
import type { Json, Task, TaskEvent, TaskTypeConfig, Worker, WorkerEvent } from '../types.js';

/** Columns of tasks in the order rowToTask reads them. Use as `select ${TASK_COLUMNS} from tasks t`. */
export const TASK_COLUMNS = `t.id, t.seq, t.type, t.queue, t.status, t.payload, t.priority, t.run_at, t.attempt,
  t.max_attempts, t.attempt_floor, t.timeout_ms, t.backoff, t.idempotency_key, t.session_id, t.session_index,
  t.key, t.user_id, t.metadata, t.worker_id, t.machine_id, t.lease_expires_at, t.result, t.error, t.progress,
  t.manual_retries, t.retry_history, t.avoid_machine_id, t.avoid_labels, t.cancel_requested, t.tracking,
  t.entry_released_at, t.created_at, t.updated_at, t.started_at, t.finished_at, t.parent_id, t.depth,
  t.concurrency_key, t.idempotency_expires_at`;

export interface TaskRow {
  id: string;
  seq: number | string;
  type: string;
  queue: string;
  status: TaskStatus;
  payload: Json;
  priority: number;
  run_at: Date;
  attempt: number;
  max_attempts: number;
  attempt_floor: number;
  timeout_ms: number | null;
  backoff: Task['backoff'] | null;
  idempotency_key: string | null;
  idempotency_expires_at: Date | null;
  session_id: string | null;
  session_index: number | null;
  key: string | null;
  user_id: string | null;
  metadata: Record<string, Json> | null;
  worker_id: string | null;
  machine_id: string | null;
  lease_expires_at: Date | null;
  result: Json | null;
  error: Task['error'];
  progress: Json | null;
  manual_retries: number;
  retry_history: Task['retryHistory'] | null;
  avoid_machine_id: string | null;
  avoid_labels: Record<string, string> | null;
  cancel_requested: boolean;
  tracking: TrackingPolicy;
  entry_released_at: Date | null;
  created_at: Date;
  updated_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  parent_id: string | null;
  depth: number;
  concurrency_key: string | null;
}

function date(v: Date | string | null): Date | null {
  if (v === null || v === undefined) return null;
  return v instanceof Date ? v : new Date(v);
}

export function rowToTask(r: TaskRow): Task {
  return {
    id: r.id,
    seq: Number(r.seq),
    type: r.type,
    queue: r.queue,
    status: r.status,
    payload: r.payload,
    priority: r.priority,
    runAt: date(r.run_at)!,
    attempt: r.attempt,
    maxAttempts: r.max_attempts,
    attemptFloor: r.attempt_floor,
    timeoutMs: r.timeout_ms,
    backoff: { ...DEFAULT_BACKOFF, ...(r.backoff ?? {}) },
    idempotencyKey: r.idempotency_key,
    idempotencyExpiresAt: date(r.idempotency_expires_at),
    sessionId: r.session_id,
    sessionIndex: r.session_index,
    key: r.key,
    userId: r.user_id,
    metadata: r.metadata ?? {},
    workerId: r.worker_id,
    machineId: r.machine_id,
    leaseExpiresAt: date(r.lease_expires_at),
    result: r.result,
    error: r.error,
    progress: r.progress,
    manualRetries: r.manual_retries,
    retryHistory: r.retry_history ?? [],
    avoidMachineId: r.avoid_machine_id,
    avoidLabels: r.avoid_labels,
    cancelRequested: r.cancel_requested,
    tracking: r.tracking,
    entryReleasedAt: date(r.entry_released_at),
    createdAt: date(r.created_at)!,
    updatedAt: date(r.updated_at)!,
    startedAt: date(r.started_at),
    finishedAt: date(r.finished_at),
    parentId: r.parent_id ?? null,
    depth: r.depth ?? 0,
    concurrencyKey: r.concurrency_key ?? null,
  };
}

export interface EventRow {
  id: number | string;
  task_id: string;
  attempt: number;
  kind: string;
  at: Date;
  worker_id: string | null;
  data: Record<string, Json> | null;
}

export function rowToEvent(r: EventRow): TaskEvent {
  return {
    id: Number(r.id),
    taskId: r.task_id,
    attempt: r.attempt,
    kind: r.kind,
    at: date(r.at)!,
    workerId: r.worker_id,
    data: r.data,
  };
}

export const WORKER_COLUMNS = `w.id, w.name, w.machine_id, w.hostname, w.pid, w.version, w.types, w.queues,
  w.concurrency, w.labels, w.state, w.stats, w.registered_at, w.last_heartbeat_at, w.stale_at, w.stale_reason,
  w.deregistered_at, w.liveness`;

export interface WorkerRow {
  id: string;
  name: string | null;
  machine_id: string;
  hostname: string | null;
  pid: number | null;
  version: string | null;
  types: string[];
  queues: string[];
  concurrency: number;
  labels: Record<string, string>;
  state: Json | null;
  stats: Worker['stats'];
  registered_at: Date;
  last_heartbeat_at: Date;
  stale_at: Date | null;
  stale_reason: string | null;
  deregistered_at: Date | null;
  liveness: unknown;
}

/** The server's settings a worker's state is read against. */
export interface WorkerClock {
  staleAfterMs: number;
  leaseMs: number;
}

/** A worker is stale once marked, or once its heartbeat is older than staleAfterMs (even before the sweep marks it). */
export function rowToWorker(r: WorkerRow, clock: WorkerClock, now = Date.now()): Worker {
  const { staleAfterMs, leaseMs } = clock;
  const last = date(r.last_heartbeat_at)!;
  const lapsed = now - last.getTime() > staleAfterMs;
  const stale = r.stale_at !== null || lapsed;
  return {
    id: r.id,
    name: r.name,
    machineId: r.machine_id,
    hostname: r.hostname,
    pid: r.pid,
    version: r.version,
    types: r.types ?? [],
    queues: r.queues ?? [],
    concurrency: r.concurrency,
    labels: r.labels ?? {},
    state: r.state,
    stats: r.stats,
    stale,
    staleReason: r.stale_reason ?? (lapsed ? `no heartbeat for over ${staleAfterMs} ms` : null),
    registeredAt: date(r.registered_at)!,
    lastHeartbeatAt: last,
    staleAt: date(r.stale_at),
    deregisteredAt: date(r.deregistered_at),
    liveness: assessLiveness(parseLivenessReport(r.liveness), {
      lastHeartbeatMs: last.getTime(),
      nowMs: now,
      leaseMs,
      stale,
    }),
  };
}

export function rowToWorkerEvent(r: {
  id: number | string;
  worker_id: string;
  kind: string;
  at: Date;
  data: Json | null;
}): WorkerEvent {
  return { id: Number(r.id), workerId: r.worker_id, kind: r.kind, at: date(r.at)!, data: r.data };
}

export function rowToTaskType(r: {
  type: string;
  tracking: TrackingPolicy;
  max_attempts: number | null;
  timeout_ms: number | null;
  backoff: TaskTypeConfig['backoff'];
  payload_schema: Json | null;
  updated_at: Date;
}): TaskTypeConfig {
  return {
    type: r.type,
    tracking: r.tracking,
    maxAttempts: r.max_attempts,
    timeoutMs: r.timeout_ms,
    backoff: r.backoff,
    payloadSchema: r.payload_schema,
    updatedAt: date(r.updated_at)!,
  };
}

/** Cursor pagination on seq: opaque base64url of the last seq seen. */
export function encodeCursor(seq: number): string {
  return Buffer.from(String(seq)).toString('base64url');
}

export function decodeCursor(cursor: string): number {
  const n = Number(Buffer.from(cursor, 'base64url').toString());
  if (!Number.isSafeInteger(n) || n < 0) throw new Error('bad cursor');
  return n;
}
