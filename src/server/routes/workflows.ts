import { z } from 'zod';
import type { Json } from '../../store/types.js';
import type { ServerContext, ZodApp } from '../context.js';
import { problems, TaskOut } from '../responses.js';
import { IdParams, JsonValue } from '../schemas.js';

const tags = ['tasks'];

const TaskLinkOut = z.object({ id: z.string(), type: z.string(), status: z.string(), round: z.number() });
export const TaskGraphOut = z
  .object({
    taskId: z.string(),
    parentId: z.string().nullable(),
    depth: z.number(),
    wait: z
      .object({
        kind: z.enum(['dependencies', 'children', 'signal']),
        pending: z.number(),
        onFailure: z.enum(['cancel', 'run']),
        round: z.number(),
        timeoutAt: z.string().nullable(),
        onTimeout: z.enum(['fail', 'run']).nullable(),
        since: z.string(),
      })
      .nullable()
      .describe('what the task waits for while it is waiting; null otherwise'),
    dependsOn: z.array(TaskLinkOut),
    dependents: z.array(TaskLinkOut),
    children: z
      .array(TaskLinkOut)
      .describe('tasks its handler spawned; round is the attempt that spawned them'),
  })
  .meta({ id: 'TaskGraph' });

/** Workflows over the API: a task's graph (dependencies, dependents, children) and signals. */
export function registerWorkflowRoutes(app: ZodApp, ctx: ServerContext): void {
  const { store, log } = ctx;

  app.get(
    '/tasks/:id/graph',
    {
      schema: {
        tags,
        summary: 'A task’s dependencies, dependents, parent and children, and what it waits for',
        params: IdParams,
        response: { 200: TaskGraphOut, ...problems(400, 401, 403, 404) },
      },
      config: { access: 'read' },
    },
    async (req) => {
      const g = await store.getTaskGraph(req.params.id);
      return {
        ...g,
        wait: g.wait
          ? {
              ...g.wait,
              timeoutAt: g.wait.timeoutAt?.toISOString() ?? null,
              since: g.wait.since.toISOString(),
            }
          : null,
      };
    },
  );

  app.post(
    '/tasks/:id/signal',
    {
      schema: {
        tags,
        summary:
          'Complete a task’s wait for a signal: it becomes runnable with the data (409 if it does not wait for one)',
        params: IdParams,
        body: z.strictObject({
          data: JsonValue.optional().describe('what the task’s handler reads as ctx.signalData'),
        }),
        response: { 200: z.object({ task: TaskOut }), ...problems(400, 401, 403, 404, 409) },
      },
      config: { access: 'create' },
    },
    async (req) => {
      const task = await store.signalTask({ taskId: req.params.id, data: req.body.data as Json | undefined });
      log.info({ event: 'task_signalled', taskId: task.id }, 'task signalled');
      return { task };
    },
  );
}
