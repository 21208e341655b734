import {
  contextOf,
  inSpan,
  SpanKind,
  SpanStatusCode,
  TRACEPARENT,
  taskAttributes,
  tracingActive,
} from '../core/tracing.js';
import type { ClaimedTask } from '../store/types.js';

/** How an attempt ended for this worker; rate_limited: back in the queue, no attempt spent; waiting: a workflow wait. */
export type Outcome = 'completed' | 'failed' | 'lost' | 'rate_limited' | 'waiting';

/**
 * One attempt of a task as a consumer span, child of the span that enqueued it (the traceparent in
 * its metadata): `gaffer.process <type>`, with the handler and the completion report as children.
 */
export async function traceTask(task: ClaimedTask, run: () => Promise<Outcome>): Promise<void> {
  if (!tracingActive()) {
    await run();
    return;
  }
  return inSpan(
    `gaffer.process ${task.type}`,
    {
      kind: SpanKind.CONSUMER,
      parent: contextOf(task.metadata?.[TRACEPARENT]),
      attributes: taskAttributes(task),
    },
    async (span) => {
      span.addEvent('gaffer.claimed', { 'gaffer.worker.id': task.workerId });
      const outcome = await run();
      span.setAttribute('gaffer.task.outcome', outcome);
      if (outcome !== 'completed') span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
    },
  );
}

/** A step of an attempt (the handler, the completion report) as a child span of its process span. */
export function traceStep<R>(name: string, task: ClaimedTask, fn: () => R | Promise<R>): Promise<R> {
  if (!tracingActive()) {
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(err);
    }
  }
  return inSpan(name, { attributes: taskAttributes(task) }, async () => fn());
}
