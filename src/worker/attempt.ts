import { NonRetryableError, RateLimitedError } from '../core/errors.js';
import type { Logger } from '../engine/logger.js';
import type { AttemptRef, ClaimedTask } from '../store/types.js';
import { reportFailure, reportRateLimited, reportSuccess } from './completion.js';
import {
  AttemptWaits,
  type ContextActions,
  HandlerContext,
  parsePayload,
  type Running,
  toJson,
  toTaskError,
} from './handler-context.js';
import { settleCompletedInTransaction } from './in-transaction.js';
import { type Outcome, traceStep } from './tracing.js';
import type { WorkerTransport } from './transport.js';
import type { HandlerDefinition } from './types.js';
import { childResultsFor } from './waits.js';

/** What one attempt needs from the worker that runs it. */
export interface AttemptHost {
  readonly transport: WorkerTransport;
  readonly contextActions: ContextActions;
  leaseMs(): number;
  workerId(): string | undefined;
  ref(task: ClaimedTask): AttemptRef;
  /** The handler returned: free its slot while the completion is written (the lease is still held). */
  release(task: ClaimedTask, entry: Running): void;
}

/**
 * Runs a claimed task's handler and reports how its attempt ended: completed, failed (retryable or
 * not), pushed back by a rate limit, waiting (children or a signal), or lost (the lease went first).
 * The worker keeps the bookkeeping of slots and counters; this is the attempt itself.
 */
export async function runAttempt(
  host: AttemptHost,
  def: HandlerDefinition | undefined,
  task: ClaimedTask,
  entry: Running,
  log: () => Logger,
): Promise<Outcome> {
  const { transport } = host;
  const began = Date.now();
  try {
    if (!def) throw new NonRetryableError(`this worker has no handler for task type ${task.type}`);
    const payload = parsePayload(def, task);
    const children = await childResultsFor(transport, task, host.workerId());
    const result = await traceStep('gaffer.handler', task, () =>
      def.handler(payload, new HandlerContext(host.contextActions, task, entry, log, children)),
    );
    if (entry.completedInTransaction)
      return await settleCompletedInTransaction(transport, host.ref(task), null, log);
    if (entry.lost) return 'lost';
    const applied = traceStep('gaffer.complete', task, () =>
      reportSuccess(transport, { ...host.ref(task), seq: task.seq }, toJson(result), host.leaseMs(), log),
    );
    host.release(task, entry);
    return (await applied) ? 'completed' : 'lost';
  } catch (err) {
    if (entry.completedInTransaction) {
      const error = toTaskError(err, entry.controller?.signal);
      return await settleCompletedInTransaction(transport, host.ref(task), error, log);
    }
    if (entry.lost) return 'lost';
    if (err instanceof AttemptWaits) return 'waiting';
    if (err instanceof RateLimitedError && !entry.controller?.signal.aborted)
      return await reportRateLimited(transport, host.ref(task), err, host.leaseMs(), log);
    const error = toTaskError(err, entry.controller?.signal);
    const ok = await reportFailure(transport, host.ref(task), error, log);
    if (!ok) return 'lost';
    log().warn(
      {
        event: 'task_failed',
        error: error.message,
        kind: error.kind ?? 'failed',
        retryable: error.retryable !== false,
        durationMs: Date.now() - began,
      },
      'task failed',
    );
    return 'failed';
  }
}
