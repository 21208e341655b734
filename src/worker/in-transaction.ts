import { GafferError, LeaseLostError } from '../core/errors.js';
import type { Logger } from '../engine/logger.js';
import type { CallerClient } from '../store/caller-transaction.js';
import { isConnectionError } from '../store/connection-errors.js';
import type { AttemptRef, Json } from '../store/types.js';
import { reportFailure } from './completion.js';
import { type Running, sleep } from './handler-context.js';
import type { Outcome } from './tracing.js';
import type { WorkerTransport } from './transport.js';

/**
 * ctx.completeInTransaction: writes the completion on the handler's own transaction. From then on the
 * worker neither renews the lease (a renewal would wait for the caller's row lock; the sweep skips
 * locked rows, so a lease that lapses meanwhile is only taken back if the caller rolls back) nor
 * reports the completion again.
 */
export async function completeOnCallerTransaction(
  transport: WorkerTransport,
  ref: AttemptRef & { seq?: number },
  entry: Running,
  client: CallerClient,
  result: Json,
  markLost: (why: string) => void,
): Promise<void> {
  if (!transport.completeInTransaction)
    throw new Error(
      'ctx.completeInTransaction needs a worker that writes to PostgreSQL itself (DirectTransport over the PostgreSQL store); over HTTP, return the result instead',
    );
  if (entry.completedInTransaction)
    throw new Error(
      `completeInTransaction was already called for attempt ${ref.attempt} of task ${ref.taskId}`,
    );
  if (entry.lost) throw new LeaseLostError(ref.taskId, ref.attempt, 'the lease was lost');
  try {
    await transport.completeInTransaction(client, { ...ref, result });
  } catch (err) {
    if (err instanceof GafferError && err.code === 'lease_lost') markLost(err.message);
    throw err;
  }
  entry.completedInTransaction = true;
}

/**
 * The outcome of an attempt whose handler completed it in its own transaction, once the handler has
 * ended: completed if that transaction committed; if the attempt still runs (rolled back, or not
 * committed when the handler ended), it fails (retryable) unless the handler threw its own error.
 */
export async function settleCompletedInTransaction(
  transport: WorkerTransport,
  ref: AttemptRef,
  handlerError: Parameters<typeof reportFailure>[2] | null,
  log: () => Logger,
): Promise<Outcome> {
  const state = await attemptStateWithRetry(transport, ref);
  if (state === 'completed') return 'completed';
  if (state === 'gone') return 'lost';
  const error = handlerError ?? {
    message:
      'the handler completed the task with completeInTransaction, but that transaction did not commit before the handler returned (rolled back or still open)',
    name: 'TransactionNotCommittedError',
    retryable: true,
  };
  return (await reportFailure(transport, ref, error, log)) ? 'failed' : 'lost';
}

async function attemptStateWithRetry(transport: WorkerTransport, ref: AttemptRef) {
  for (let delay = 100; ; delay *= 2) {
    try {
      return await transport.attemptState!(ref);
    } catch (err) {
      // Unknown for now; the store decides anyway (a commit stands, a rollback lets the lease lapse).
      if (!isConnectionError(err) || delay > 3200) return 'gone' as const;
      await sleep(delay);
    }
  }
}
