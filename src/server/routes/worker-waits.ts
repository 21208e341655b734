import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { LeaseLostError } from '../../core/errors.js';
import type { NewTask } from '../../store/types.js';
import type { ServerContext, ZodApp } from '../context.js';
import { problems, TaskErrorOut, TaskOut } from '../responses.js';
import { Id, JsonValue, NewTask as NewTaskBody } from '../schemas.js';
import { Attempt } from './worker-reports.js';

const tags = ['worker protocol'];
const TaskParams = z.strictObject({ workerId: Id, taskId: Id });

const SpawnBody = z.strictObject({
  attempt: Attempt,
  children: z.array(NewTaskBody).min(1, 'must hold at least one task').max(10_000),
  onChildFailure: z
    .enum(['run', 'cancel'])
    .optional()
    .describe(
      'run: the parent runs again with the errors (default); cancel: a failed child cancels the parent',
    ),
});
const WaitSignalBody = z.strictObject({
  attempt: Attempt,
  timeoutMs: z
    .number()
    .int()
    .min(1)
    .max(365 * 24 * 3600_000)
    .optional(),
  onTimeout: z.enum(['fail', 'run']).optional(),
});
const ChildResultOut = z.object({
  id: z.string(),
  type: z.string(),
  status: z.string(),
  result: JsonValue,
  error: TaskErrorOut.nullable(),
});

/**
 * The worker protocol's waits: a held attempt ends, unspent, and its task waits (holding no worker
 * slot) for children it creates or for a signal, then runs again; the next attempt reads how the
 * children ended. Each names its attempt (the fencing token) like every other report.
 */
export function registerWorkerWaitRoutes(
  app: ZodApp,
  ctx: ServerContext,
  route: { owns: (req: FastifyRequest) => Promise<void>; config: { access: 'worker' } },
): void {
  const { store, log } = ctx;
  const { owns, config } = route;

  app.post(
    '/worker/:workerId/tasks/:taskId/spawn',
    {
      schema: {
        tags,
        summary: 'Create children and end the attempt: the task waits for them, then runs again (fan-in)',
        params: TaskParams,
        body: SpawnBody,
        response: {
          200: z.object({ task: TaskOut, children: z.array(TaskOut) }),
          ...problems(400, 401, 403, 404, 409),
        },
      },
      config,
      preHandler: owns,
    },
    async (req) => {
      const children = req.body.children as NewTask[];
      await ctx.payloads.check(children, (i) => `children[${i}].`);
      const out = await store.spawnChildren({
        taskId: req.params.taskId,
        attempt: req.body.attempt,
        workerId: req.params.workerId,
        children,
        onChildFailure: req.body.onChildFailure,
      });
      log.info(
        { event: 'task_waiting', taskId: out.parent.id, children: out.children.length },
        'task waits for its children',
      );
      return { task: out.parent, children: out.children };
    },
  );

  app.post(
    '/worker/:workerId/tasks/:taskId/wait-signal',
    {
      schema: {
        tags,
        summary:
          'End the attempt: the task waits for POST /tasks/{id}/signal (or its timeout), then runs again',
        params: TaskParams,
        body: WaitSignalBody,
        response: { 200: z.object({ task: TaskOut }), ...problems(400, 401, 403, 404, 409) },
      },
      config,
      preHandler: owns,
    },
    async (req) => {
      const task = await store.waitForSignal({
        taskId: req.params.taskId,
        attempt: req.body.attempt,
        workerId: req.params.workerId,
        timeoutMs: req.body.timeoutMs,
        onTimeout: req.body.onTimeout,
      });
      return { task };
    },
  );

  app.get(
    '/worker/:workerId/tasks/:taskId/children',
    {
      schema: {
        tags,
        summary: 'How the children of a held task ended (its metadata["gaffer.wake"].round names the round)',
        params: TaskParams,
        querystring: z.strictObject({
          attempt: z.coerce.number().int().min(1),
          round: z.coerce.number().int().min(0),
        }),
        response: { 200: z.object({ items: z.array(ChildResultOut) }), ...problems(400, 401, 403, 404, 409) },
      },
      config,
      preHandler: owns,
    },
    async (req) => {
      const task = await store.getTask(req.params.taskId);
      if (
        task.status !== 'running' ||
        task.attempt !== req.query.attempt ||
        task.workerId !== req.params.workerId
      ) {
        throw new LeaseLostError(
          task.id,
          req.query.attempt,
          `the task is ${task.status} on attempt ${task.attempt}`,
        );
      }
      return { items: await store.getChildResults({ taskId: task.id, round: req.query.round }) };
    },
  );
}
