import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { GafferError, LeaseLostError, NotFoundError } from '../../core/errors.js';
import { findJsonProblems, jsonProblemError } from '../../core/json-limits.js';
import type { AttemptRef, TaskError } from '../../store/types.js';
import type { ServerContext, ZodApp } from '../context.js';
import { noContent, problems } from '../responses.js';
import { Id, JsonValue } from '../schemas.js';

const tags = ['worker protocol'];

export const WorkerParams = z.strictObject({ workerId: Id });
const TaskParams = z.strictObject({ workerId: Id, taskId: Id });
export const Attempt = z.number().int().min(1).max(1_000_000);
export const Ref = z.strictObject({ taskId: Id, attempt: Attempt });

/** The seq a claim answered with: sent back, the server finds the task without its id index. */
const Seq = z
  .number()
  .int()
  .min(1)
  .max(Number.MAX_SAFE_INTEGER)
  .optional()
  .describe('the seq of the claimed task (optional; it must belong to taskId)');
const CompleteBody = z.strictObject({ attempt: Attempt, seq: Seq, result: JsonValue.optional() });
const CompleteManyBody = z.strictObject({
  items: z
    .array(z.strictObject({ taskId: Id, attempt: Attempt, seq: Seq, result: JsonValue.optional() }))
    .min(1)
    .max(1000),
});
const FailBody = z.strictObject({
  attempt: Attempt,
  error: z.strictObject({
    message: z.string().max(10_000),
    name: z.string().max(200).optional(),
    retryable: z.boolean().optional().describe('false: fail at once, no further attempt'),
    kind: z.enum(['failed', 'timeout', 'cancelled']).optional(),
    stack: z.string().max(10_000).optional(),
  }),
});

const RateLimitedBody = z.strictObject({
  attempt: Attempt,
  retryAfterMs: z
    .number()
    .int()
    .min(0)
    .max(7 * 24 * 3600_000)
    .describe('runnable again this many milliseconds from now'),
  reason: z
    .string()
    .min(1)
    .max(1000)
    .optional()
    .describe("for the task's history, e.g. the provider's answer"),
});

/**
 * The worker protocol's reports on held attempts: extend, progress, complete,
 * fail, hand back. Every write names its attempt (the fencing token): one that
 * no longer holds the task gets 409 lease_lost, and a worker token reaching for
 * a lease held by another token's worker gets 403.
 */
export function registerWorkerReportRoutes(
  app: ZodApp,
  ctx: ServerContext,
  route: { owns: (req: FastifyRequest) => Promise<void>; config: { access: 'worker' } },
): void {
  const { store, hub, log, auth } = ctx;
  const { owns, config } = route;

  /** Why a write was refused: 403 when a worker token reaches for another token's lease, else 409 / 404. */
  async function refused(req: FastifyRequest, ref: AttemptRef, err?: unknown): Promise<Error> {
    const task = await store.findTask(ref.taskId);
    if (!task) return new NotFoundError('task', ref.taskId);
    if (
      req.auth?.role === 'worker' &&
      task.status === 'running' &&
      task.workerId &&
      task.workerId !== ref.workerId
    ) {
      if ((await auth.workerToken(task.workerId)) !== req.auth.id) {
        return new GafferError('forbidden', `task ${ref.taskId} is held by a worker of another token`, {
          taskId: ref.taskId,
        });
      }
    }
    if (err) return err as Error;
    const why =
      task.attempt !== ref.attempt
        ? `the task is on attempt ${task.attempt} now`
        : task.status !== 'running'
          ? `the task is ${task.status}`
          : 'another worker holds it';
    log.warn({ event: 'lease_lost', taskId: ref.taskId, attempt: ref.attempt, workerId: ref.workerId }, why);
    return new LeaseLostError(ref.taskId, ref.attempt, why);
  }

  /**
   * True when this very attempt of this worker already completed the task: the request is the
   * repeat of one whose answer was lost after its commit, and is answered as the success it was.
   */
  async function alreadyCompleted(ref: AttemptRef): Promise<boolean> {
    const task = await store.findTask(ref.taskId);
    return task?.status === 'completed' && task.attempt === ref.attempt && task.workerId === ref.workerId;
  }

  async function guarded<T>(req: FastifyRequest, ref: AttemptRef, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof GafferError && (err.code === 'lease_lost' || err.code === 'not_found')) {
        throw await refused(req, ref, err);
      }
      throw err;
    }
  }

  app.post(
    '/worker/:workerId/tasks/:taskId/extend',
    {
      schema: {
        tags,
        summary: 'Extend the lease of a held attempt',
        params: TaskParams,
        body: z.strictObject({
          attempt: Attempt,
          leaseMs: z
            .number()
            .int()
            .min(1000)
            .max(24 * 3600_000)
            .optional(),
        }),
        response: { 200: z.object({ leaseExpiresAt: z.string() }), ...problems(400, 401, 403, 404, 409) },
      },
      config,
      preHandler: owns,
    },
    async (req) => {
      const ref = { taskId: req.params.taskId, attempt: req.body.attempt, workerId: req.params.workerId };
      const at = await guarded(req, ref, () => store.extendLease({ ...ref, leaseMs: req.body.leaseMs }));
      return { leaseExpiresAt: at.toISOString() };
    },
  );

  app.post(
    '/worker/:workerId/tasks/:taskId/progress',
    {
      schema: {
        tags,
        summary: 'Record progress (any JSON) of a held attempt',
        params: TaskParams,
        body: z.strictObject({ attempt: Attempt, progress: JsonValue }),
        response: problems(400, 401, 403, 404, 409),
      },
      config,
      preHandler: owns,
    },
    async (req, reply) => {
      const ref = { taskId: req.params.taskId, attempt: req.body.attempt, workerId: req.params.workerId };
      await guarded(req, ref, () => store.reportProgress({ ...ref, progress: req.body.progress }));
      return noContent(reply);
    },
  );

  app.post(
    '/worker/:workerId/tasks/:taskId/complete',
    {
      schema: {
        tags,
        summary: 'Complete a held attempt with its result (409 lease_lost if it no longer holds the task)',
        params: TaskParams,
        body: CompleteBody,
        response: problems(400, 401, 403, 404, 409),
      },
      config,
      preHandler: owns,
    },
    async (req, reply) => {
      const ref = { taskId: req.params.taskId, attempt: req.body.attempt, workerId: req.params.workerId };
      const ok = await hub.complete({ ...ref, seq: req.body.seq, result: req.body.result });
      if (!ok && !(await alreadyCompleted(ref))) throw await refused(req, ref);
      log.debug({ event: 'task_completed', ...ref }, 'task completed');
      return noContent(reply);
    },
  );

  app.post(
    '/worker/:workerId/complete',
    {
      schema: {
        tags,
        summary: 'Complete many held attempts at once; the answer names those refused (lease lost)',
        params: WorkerParams,
        body: CompleteManyBody,
        response: {
          200: z.object({
            completed: z.array(z.string()),
            refused: z.array(z.object({ taskId: z.string(), attempt: z.number() })),
          }),
          ...problems(400, 401, 403),
        },
      },
      config,
      preHandler: owns,
    },
    async (req) => {
      const { workerId } = req.params;
      const items = req.body.items.map((i) => ({ ...i, workerId }));
      // Refused whole, before any item is applied, naming every bad one (the worker can send the rest again).
      const bad = items.flatMap((i, n) => findJsonProblems(i.result ?? null, `items[${n}].result`));
      if (bad.length > 0) throw jsonProblemError(bad);
      const results = await Promise.all(
        items.map(async (i) => (await hub.complete(i)) || alreadyCompleted(i)),
      );
      const completed: string[] = [];
      const refusedRefs: Array<{ taskId: string; attempt: number }> = [];
      results.forEach((ok, i) => {
        const item = items[i]!;
        if (ok) completed.push(item.taskId);
        else refusedRefs.push({ taskId: item.taskId, attempt: item.attempt });
      });
      for (const id of completed)
        log.debug({ event: 'task_completed', taskId: id, workerId }, 'task completed');
      for (const r of refusedRefs)
        log.warn({ event: 'lease_lost', ...r, workerId }, 'completion refused: lease lost');
      return { completed, refused: refusedRefs };
    },
  );

  app.post(
    '/worker/:workerId/tasks/:taskId/fail',
    {
      schema: {
        tags,
        summary:
          'Fail a held attempt; the task retries with backoff or, when spent or non-retryable, dead-letters',
        params: TaskParams,
        body: FailBody,
        response: { 200: z.object({ status: z.string() }), ...problems(400, 401, 403, 404, 409) },
      },
      config,
      preHandler: owns,
    },
    async (req) => {
      const ref = { taskId: req.params.taskId, attempt: req.body.attempt, workerId: req.params.workerId };
      const task = await guarded(req, ref, () =>
        store.failTask({ ...ref, error: req.body.error as TaskError }),
      );
      // Debug: the store's event log (engine/event-log.ts) already writes task_failed, retry_scheduled and
      // dead_lettered at warn/info for every failure, whoever reports it; this line only adds `retryable`.
      log.debug(
        {
          event: task.status === 'failed' ? 'dead_lettered' : 'task_failed',
          ...ref,
          sessionId: task.sessionId ?? undefined,
          status: task.status,
          error: req.body.error.message,
          retryable: req.body.error.retryable !== false,
        },
        `attempt failed; task is ${task.status}`,
      );
      return { status: task.status };
    },
  );

  app.post(
    '/worker/:workerId/tasks/:taskId/hand-back',
    {
      schema: {
        tags,
        summary: 'Hand a held task back unstarted (no attempt is spent)',
        params: TaskParams,
        body: z.strictObject({ attempt: Attempt }),
        response: problems(400, 401, 403, 404, 409),
      },
      config,
      preHandler: owns,
    },
    async (req, reply) => {
      const ref = { taskId: req.params.taskId, attempt: req.body.attempt, workerId: req.params.workerId };
      const back = await store.handBackTasks([ref]);
      if (back.length === 0) throw await refused(req, ref);
      return noContent(reply);
    },
  );

  app.post(
    '/worker/:workerId/tasks/:taskId/rate-limited',
    {
      schema: {
        tags,
        summary:
          'The handler met a rate limit: the task waits retryAfterMs in the queue, its attempt not spent',
        params: TaskParams,
        body: RateLimitedBody,
        response: {
          200: z.object({ until: z.string().describe('when the task is runnable again') }),
          ...problems(400, 401, 403, 404, 409),
        },
      },
      config,
      preHandler: owns,
    },
    async (req) => {
      const ref = { taskId: req.params.taskId, attempt: req.body.attempt, workerId: req.params.workerId };
      const { retryAfterMs, reason } = req.body;
      const { until } = await guarded(req, ref, () => store.rateLimitTask({ ...ref, retryAfterMs, reason }));
      log.info({ event: 'task_rate_limited', ...ref, retryAfterMs }, 'rate-limited: back in the queue');
      return { until: until.toISOString() };
    },
  );

  app.post(
    '/worker/:workerId/hand-back',
    {
      schema: {
        tags,
        summary: 'Hand many held tasks back unstarted',
        params: WorkerParams,
        body: z.strictObject({ items: z.array(Ref).max(1000) }),
        response: { 200: z.object({ handedBack: z.array(z.string()) }), ...problems(400, 401, 403) },
      },
      config,
      preHandler: owns,
    },
    async (req) => {
      const { workerId } = req.params;
      const handedBack = await store.handBackTasks(req.body.items.map((i) => ({ ...i, workerId })));
      return { handedBack };
    },
  );
}
