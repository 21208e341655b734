/**
 * What the store tells observers: domain events after each commit (for logs and
 * counters in this process), the cheap database snapshot behind the gauges, and
 * the alert records kept by the maintenance leader. Types only; the SQL is in
 * sql/events.ts, sql/metrics.ts and sql/alerts.ts.
 */

/** The task an event is about. */
export interface TaskRef {
  taskId: string;
  type: string;
  queue: string;
  sessionId: string | null;
}

/** How an attempt that did not complete ended. */
export type FailedOutcome = 'failed' | 'timeout' | 'lost' | 'cancelled';

/**
 * One domain event, named like the log line it becomes. Delivered after the
 * transaction that caused it committed; never for work that rolled back.
 * Tasks created inside a caller's own transaction (createTasksIn) emit nothing:
 * the store cannot see that commit.
 */
export type StoreEvent =
  | (TaskRef & { event: 'task_created' })
  | (TaskRef & {
      event: 'task_claimed';
      attempt: number;
      workerId: string;
      /** Claimed-at minus max(created_at, run_at): how long runnable work waited. */
      pickupMs: number;
    })
  | (TaskRef & {
      event: 'task_completed';
      attempt: number;
      workerId: string | null;
      /** Claim to completion of this attempt. */
      durationMs: number | null;
      /** Set when this completion ends a manual retry: time since that retry was asked for. */
      manualRetryMs: number | null;
    })
  | (TaskRef & {
      event: 'task_failed';
      attempt: number;
      workerId: string | null;
      durationMs: number | null;
      error: string;
      outcome: FailedOutcome;
      /** The status the task went to: retrying (attempts left) or failed / cancelled (final). */
      status: 'retrying' | 'failed' | 'cancelled';
      final: boolean;
      /** Set when this final end closes a manual retry: time since that retry was asked for. */
      manualRetryMs: number | null;
    })
  | (TaskRef & { event: 'retry_scheduled'; attempt: number; delayMs: number; runAt: Date })
  | (TaskRef & { event: 'dead_lettered'; attempt: number; error: string; attempts: number })
  | (TaskRef & {
      event: 'task_retried_by_hand';
      /** The attempt number the retry will run as. */
      attempt: number;
      by: string;
      reason: string | null;
      manualRetries: number;
    })
  | (TaskRef & { event: 'task_cancelled'; attempt: number; by: string | null; reason: string | null })
  | (TaskRef & { event: 'task_waiting'; attempt: number; kind: 'children' | 'signal' })
  | (TaskRef & { event: 'task_signalled' })
  | (TaskRef & { event: 'lease_lost'; attempt: number; workerId: string | null; reason: string })
  | {
      event: 'worker_registered';
      workerId: string;
      machineId: string;
      name: string | null;
      types: string[];
      /** Earlier workers of the same machine and slot, made stale by this registration. */
      replaced: string[];
    }
  | { event: 'worker_stale'; workerId: string; reason: string }
  | { event: 'worker_deregistered'; workerId: string; reason: 'deregistered' | 'deleted' };

export type StoreEventName = StoreEvent['event'];

export type StoreEventListener = (event: StoreEvent) => void;

/** Everything the gauges and alert rules need, read in one statement. */
export interface MetricsSnapshot {
  /** The database's clock when read (or the injected `now`). */
  at: Date;
  /** Unfinished tasks by queue and status (queued, running, retrying). */
  depth: Array<{ queue: string; status: 'queued' | 'running' | 'retrying'; count: number }>;
  /** Runnable work (queued or retrying with run_at passed) by queue and type, with its oldest wait. */
  waiting: Array<{ queue: string; type: string; count: number; oldestAgeMs: number }>;
  /** Dead letters (status failed) by queue and type. */
  deadLetters: Array<{ queue: string; type: string; count: number }>;
  /** Live workers with what they serve and the counters they report with heartbeats. */
  liveWorkers: Array<{
    id: string;
    machineId: string;
    /** Empty: any type. */
    types: string[];
    /** Empty: any queue. */
    queues: string[];
    processed: number | null;
    failed: number | null;
    startedAt: Date | null;
    /** The main event loop's lag at its last heartbeat (null: it does not report one). */
    eventLoopLagMs: number | null;
    /** Event loop blocked for a third of the lease, or leases half-way to lapsing (src/core/liveness.ts). */
    suspectedStuck: boolean;
  }>;
  staleWorkers: number;
  /** Queues and task types paused by flow control (nothing of them is claimed, so no worker is missing). */
  paused?: Array<{ scope: 'queue' | 'type'; name: string }>;
}

export type AlertStatus = 'firing' | 'resolved';
export type AlertSeverity = 'warning' | 'critical';

/** A rule's finding: what is wrong now. `subject` tells apart the findings of one rule (a queue, a type). */
export interface AlertInput {
  rule: string;
  subject: string;
  severity: AlertSeverity;
  summary: string;
  value: number | null;
  threshold: number | null;
  labels: Record<string, string>;
}

export interface Alert extends AlertInput {
  id: number;
  status: AlertStatus;
  firedAt: Date;
  resolvedAt: Date | null;
  lastEvaluatedAt: Date;
}

export interface SyncAlertsParams {
  /** Every finding of this evaluation; firing alerts not in it resolve. */
  firing: AlertInput[];
  now?: Date;
  /** Resolved alerts older than this are removed (default 7 days). */
  keepResolvedMs?: number;
}

export interface SyncAlertsResult {
  fired: Alert[];
  resolved: Alert[];
  firing: Alert[];
}
