import type { Queryable } from '../db.js';
import type { StoreEvent } from '../observability.js';
import type { ClaimedTask } from '../types.js';

/**
 * Domain events collected per transaction. The store binds a buffer to a
 * transaction only when someone listens, and publishes the buffer after commit;
 * SQL helpers push into it without knowing either. With no listener there is no
 * buffer, and helpers skip building events at all (`eventSink(tx)` is undefined).
 */
const sinks = new WeakMap<Queryable, StoreEvent[]>();

export function bindEvents(tx: Queryable, sink: StoreEvent[]): Queryable {
  sinks.set(tx, sink);
  return tx;
}

/** The buffer of this transaction, or undefined when nobody listens. */
export function eventSink(tx: Queryable): StoreEvent[] | undefined {
  return sinks.get(tx);
}

/** A claim's event, from the row the claim returned (no extra query on the hot path). */
export function claimedEvent(t: ClaimedTask): StoreEvent {
  const claimedAt = t.startedAt.getTime();
  return {
    event: 'task_claimed',
    taskId: t.id,
    type: t.type,
    queue: t.queue,
    sessionId: t.sessionId,
    attempt: t.attempt,
    workerId: t.workerId,
    // Waiting starts when the task became runnable: its creation, or its run-at (delay, backoff).
    pickupMs: Math.max(0, claimedAt - Math.max(t.createdAt.getTime(), t.runAt.getTime())),
  };
}

/** A completed attempt as complete_tasks returns it with its detail. */
export interface CompletedRow {
  id: string;
  attempt: number;
  worker_id: string | null;
  type: string;
  queue: string;
  session_id: string | null;
  duration_ms: number | null;
  /** Completed is final, so on a task retried by hand this ends its newest retry: time since it was asked for. */
  retry_ms: number | null;
}

export function completedEvent(r: CompletedRow): StoreEvent {
  return {
    event: 'task_completed',
    taskId: r.id,
    type: r.type,
    queue: r.queue,
    sessionId: r.session_id,
    attempt: r.attempt,
    workerId: r.worker_id,
    durationMs: r.duration_ms,
    manualRetryMs: r.retry_ms,
  };
}
