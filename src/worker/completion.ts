import { GafferError, type RateLimitedError } from '../core/errors.js';
import type { Logger } from '../engine/logger.js';
import { isConnectionError } from '../store/connection-errors.js';
import type { AttemptRef, Json, TaskError } from '../store/types.js';
import { sleep } from './handler-context.js';
import type { WorkerTransport } from './transport.js';

/**
 * Sends a handler's success; resolves false when the attempt no longer holds the task. A report
 * lost to a database or network blip is sent again (the attempt number fences a repeat) until the
 * lease would lapse: a success must not turn into a failed attempt, nor, on the last attempt, a
 * dead letter. Any other error rejects, and the attempt fails with it.
 */
export async function reportUntilLeaseEnds(
  send: () => Promise<boolean>,
  leaseMs: number,
  onGiveUp: (err: unknown) => void,
): Promise<boolean> {
  const giveUpAt = Date.now() + leaseMs;
  for (let delay = 100; ; delay = Math.min(delay * 2, 2000)) {
    try {
      return await send();
    } catch (err) {
      const transient = isConnectionError(err) || (err instanceof GafferError && err.code === 'unavailable');
      if (!transient) throw err;
      if (Date.now() + delay >= giveUpAt) {
        onGiveUp(err);
        return false;
      }
      await sleep(delay);
    }
  }
}

/** Reports a handler's success; resolves false when the attempt no longer holds the task. */
export function reportSuccess(
  transport: WorkerTransport,
  ref: AttemptRef & { seq?: number },
  result: Json,
  leaseMs: number,
  log: () => Logger,
): Promise<boolean> {
  return reportUntilLeaseEnds(
    () => transport.complete({ ...ref, result }),
    leaseMs,
    (err) =>
      log().warn(
        { event: 'report_error', err: String(err) },
        'could not report the completion; the lease will lapse',
      ),
  );
}

/** Reports a failed attempt; resolves false when it could not be reported (the lease will lapse) or was no longer held. */
export function reportFailure(
  transport: WorkerTransport,
  ref: AttemptRef,
  error: TaskError,
  log: () => Logger,
): Promise<boolean> {
  return transport.fail({ ...ref, error }).catch((e: unknown) => {
    log().warn(
      { event: 'report_error', err: String(e) },
      'could not report the failure; the lease will lapse',
    );
    return false;
  });
}

/**
 * Reports a handler's rate limit: the task waits `retryAfterMs` in the queue, its attempt unspent. A
 * wait the store refuses (not a number, negative, past 7 days) fails the attempt with the reason
 * instead, as any other handler error would.
 */
export async function reportRateLimited(
  transport: WorkerTransport,
  ref: AttemptRef,
  err: RateLimitedError,
  leaseMs: number,
  log: () => Logger,
): Promise<'rate_limited' | 'failed' | 'lost'> {
  const reason = err.message.slice(0, 1000);
  try {
    const ok = await reportUntilLeaseEnds(
      () => transport.rateLimited({ ...ref, retryAfterMs: err.retryAfterMs, reason }),
      leaseMs,
      (e) =>
        log().warn(
          { event: 'report_error', err: String(e) },
          'could not report the rate limit; the lease will lapse',
        ),
    );
    if (ok)
      log().info(
        { event: 'task_rate_limited', retryAfterMs: err.retryAfterMs, reason },
        'rate-limited: back in the queue',
      );
    return ok ? 'rate_limited' : 'lost';
  } catch (e) {
    if (!(e instanceof GafferError && e.code === 'validation')) throw e;
    const error = { message: `${reason} (${e.message})`, name: err.name, retryable: true };
    return (await reportFailure(transport, ref, error, log)) ? 'failed' : 'lost';
  }
}
