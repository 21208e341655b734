/**
 * Library errors carry a stable `code` so callers (and the HTTP layer, which maps
 * codes to status codes) never parse messages.
 */
export type GafferErrorCode =
  | 'validation'
  | 'not_found'
  | 'conflict'
  | 'illegal_transition'
  | 'lease_lost'
  | 'retry_limit'
  | 'not_eligible'
  | 'worker_not_live'
  | 'unauthorized'
  | 'forbidden'
  | 'payload_too_large'
  | 'rate_limited'
  | 'unavailable';

export class GafferError extends Error {
  readonly code: GafferErrorCode;
  readonly details: Record<string, unknown> | undefined;
  constructor(code: GafferErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'GafferError';
    this.code = code;
    this.details = details;
  }
}

export class ValidationError extends GafferError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('validation', message, details);
    this.name = 'ValidationError';
  }
}

export class NotFoundError extends GafferError {
  constructor(what: string, id: string | number) {
    super('not_found', `${what} ${JSON.stringify(id)} does not exist`, { what, id });
    this.name = 'NotFoundError';
  }
}

export class ConflictError extends GafferError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('conflict', message, details);
    this.name = 'ConflictError';
  }
}

export class IllegalTransitionError extends GafferError {
  constructor(taskId: string, from: string, action: string, allowedFrom: readonly string[]) {
    super(
      'illegal_transition',
      `task ${taskId} is ${from}; cannot ${action} it (only from ${allowedFrom.join(' or ')})`,
      { taskId, status: from, action, allowedFrom },
    );
    this.name = 'IllegalTransitionError';
  }
}

/** The writer's attempt no longer holds the task: its lease lapsed, or the task was cancelled or re-leased. */
export class LeaseLostError extends GafferError {
  constructor(taskId: string, attempt: number, reason: string) {
    super('lease_lost', `attempt ${attempt} of task ${taskId} no longer holds its lease: ${reason}`, {
      taskId,
      attempt,
    });
    this.name = 'LeaseLostError';
  }
}

export class WorkerNotLiveError extends GafferError {
  constructor(workerId: string, why: string) {
    super(
      'worker_not_live',
      `worker ${workerId} cannot claim: ${why}; register again to get a new worker id`,
      {
        workerId,
      },
    );
    this.name = 'WorkerNotLiveError';
  }
}

/**
 * Thrown by a handler to fail its task at once, with no further automatic attempt
 * (BullMQ calls this UnrecoverableError).
 */
export class NonRetryableError extends Error {
  readonly retryable = false;
  constructor(message: string) {
    super(message);
    this.name = 'NonRetryableError';
  }
}

/**
 * Thrown by a handler (or by `ctx.rateLimited`) when a provider answered with a rate limit: the task
 * goes back to the queue, runnable again in `retryAfterMs`, and the attempt is not spent.
 */
export class RateLimitedError extends Error {
  readonly retryAfterMs: number;
  constructor(retryAfterMs: number, message = `rate-limited; run again in ${retryAfterMs} ms`) {
    super(message);
    this.name = 'RateLimitedError';
    // A provider's Retry-After may be fractional seconds; the store counts whole milliseconds.
    this.retryAfterMs = Number.isFinite(retryAfterMs) ? Math.max(0, Math.ceil(retryAfterMs)) : Number.NaN;
  }
}
