import { z } from 'zod';
import { GafferError } from '../../core/errors.js';
import { actor } from '../auth.js';
import type { ServerContext, ZodApp } from '../context.js';
import { BulkResultOut, noContent, problems, TaskOut, TaskPage } from '../responses.js';
import { BodyFilter, ByReason, FilterFields, IdParams, Limit } from '../schemas.js';

const tags = ['dead letters'];

const { status: _status, ...DeadFilterFields } = FilterFields;
const DeadQuery = z.strictObject({
  ...DeadFilterFields,
  limit: Limit.default(50),
  cursor: z.string().max(100).optional(),
  order: z.enum(['asc', 'desc']).optional(),
});
const { status: _s, ...DeadBodyFields } = BodyFilter.shape;
const RetryManyBody = z.strictObject({
  filter: z.strictObject(DeadBodyFields).optional(),
  reason: ByReason.shape.reason,
  by: ByReason.shape.by,
});

/** Dead letters are the tasks that ended `failed` (R2.4). */
export function registerDeadLetterRoutes(app: ZodApp, ctx: ServerContext): void {
  const { store, log } = ctx;

  async function deadLetter(id: string) {
    const task = await store.getTask(id);
    if (task.status !== 'failed') {
      throw new GafferError(
        'not_eligible',
        `task ${id} is ${task.status}, not a dead letter (only failed tasks are)`,
        {
          taskId: id,
          status: task.status,
        },
      );
    }
    return task;
  }

  app.get(
    '/dead-letters',
    {
      schema: {
        tags,
        summary: 'List failed tasks with their payload, last error and attempts',
        querystring: DeadQuery,
        response: { 200: TaskPage, ...problems(400, 401, 403) },
      },
      config: { access: 'read' },
    },
    async (req) => store.listTasks({ ...req.query, status: 'failed' }),
  );

  app.post(
    '/dead-letters/:id/retry',
    {
      schema: {
        tags,
        summary: 'Redrive one dead letter',
        params: IdParams,
        body: ByReason.optional(),
        response: { 200: TaskOut, ...problems(400, 401, 403, 404, 409) },
      },
      config: { access: 'admin' },
    },
    async (req) => {
      await deadLetter(req.params.id);
      const by = actor(req, req.body?.by);
      const task = await store.retryTask({ taskId: req.params.id, by, reason: req.body?.reason });
      log.info(
        { event: 'task_retried_by_hand', taskId: task.id, by, reason: req.body?.reason },
        'dead letter retried',
      );
      return task;
    },
  );

  app.post(
    '/dead-letters/retry',
    {
      schema: {
        tags,
        summary: 'Redrive every dead letter matching a filter (all of them when the filter is empty)',
        body: RetryManyBody,
        response: { 200: BulkResultOut, ...problems(400, 401, 403) },
      },
      config: { access: 'admin' },
    },
    async (req) => {
      const by = actor(req, req.body.by);
      const res = await store.retryTasks({
        filter: { ...(req.body.filter ?? {}), status: 'failed' },
        by,
        reason: req.body.reason,
      });
      log.info({ event: 'task_retried_by_hand', count: res.changed, by }, 'dead letters retried');
      return res;
    },
  );

  app.delete(
    '/dead-letters/:id',
    {
      schema: {
        tags,
        summary: 'Delete a dead letter',
        params: IdParams,
        response: problems(400, 401, 403, 404, 409),
      },
      config: { access: 'admin' },
    },
    async (req, reply) => {
      const n = await store.deleteTasks({ ids: [req.params.id], status: 'failed' });
      if (n === 0) await deadLetter(req.params.id);
      log.info({ event: 'task_deleted', taskId: req.params.id }, 'dead letter deleted');
      return noContent(reply);
    },
  );
}
