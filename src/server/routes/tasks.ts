import { z } from 'zod';
import { ValidationError } from '../../core/errors.js';
import { CreateBatcher } from '../../engine/create-batcher.js';
import type { NewTask, TaskFilter } from '../../store/types.js';
import { actor } from '../auth.js';
import type { ServerContext, ZodApp } from '../context.js';
import {
  BulkResultOut,
  Counts,
  noContent,
  Outcome,
  problems,
  TaskDetailOut,
  TaskEventOut,
  TaskOut,
  TaskPage,
} from '../responses.js';
import {
  BodyFilter,
  BulkCreateBody,
  ByReason,
  CountQuery,
  CreateTaskBody,
  IdParams,
  isEmptyFilter,
  TaskQuery,
  Text,
} from '../schemas.js';

const tags = ['tasks'];

const CreatedOne = z.object({ task: TaskOut, outcome: Outcome });
const CreatedMany = z.object({ tasks: z.array(TaskOut), outcomes: z.array(Outcome) });
const FilterBody = z.strictObject({
  filter: BodyFilter,
  reason: ByReason.shape.reason,
  by: ByReason.shape.by,
});
const RetryBody = z.strictObject({
  reason: ByReason.shape.reason,
  by: ByReason.shape.by,
  avoidLastMachine: z.boolean().optional().describe('keep the next attempt off the machine that failed last'),
  avoidLabels: z
    .record(z.string(), Text)
    .optional()
    .describe('keep the next attempt off workers with these labels'),
});

/** A bulk filter must name something: an empty one would act on every task. */
export function requireFilter(f: TaskFilter): TaskFilter {
  if (isEmptyFilter(f)) {
    throw new ValidationError(
      'filter must name at least one of status, type, queue, sessionId, key, userId, ...',
      {
        field: 'filter',
      },
    );
  }
  return f;
}

export function registerTaskRoutes(app: ZodApp, ctx: ServerContext): void {
  const { store, log } = ctx;
  // Concurrent small creates share a statement and a commit (group commit), each answered alone.
  const creates = new CreateBatcher(store);

  app.post(
    '/tasks',
    {
      schema: {
        tags,
        summary: 'Create a task (idempotent by id or idempotencyKey)',
        body: CreateTaskBody,
        response: { 200: CreatedOne, 201: CreatedOne, ...problems(400, 401, 403, 409, 413, 429, 503) },
      },
      config: { access: 'create' },
    },
    async (req, reply) => {
      const { retry, ...task } = req.body;
      await ctx.payloads.check([task], () => '');
      const res = await creates.createTasks({ tasks: [task as NewTask], retry, by: actor(req) });
      const created = res.tasks[0]!;
      const outcome = res.outcomes[0]!;
      if (outcome === 'created') {
        log.info(
          { event: 'task_created', taskId: created.id, type: created.type, queue: created.queue },
          'task created',
        );
      } else if (outcome === 'retried') {
        log.info(
          { event: 'task_retried_by_hand', taskId: created.id, by: actor(req) },
          'task sent again and retried',
        );
      }
      reply.code(outcome === 'created' ? 201 : 200);
      return { task: created, outcome };
    },
  );

  app.post(
    '/tasks/bulk',
    {
      schema: {
        tags,
        summary: 'Create many tasks in one transaction (all or nothing)',
        body: BulkCreateBody,
        response: { 200: CreatedMany, 201: CreatedMany, ...problems(400, 401, 403, 409, 413, 429, 503) },
      },
      config: { access: 'create' },
    },
    async (req, reply) => {
      const tasks = req.body.tasks as NewTask[];
      await ctx.payloads.check(tasks, (i) => `tasks[${i}].`);
      const res = await creates.createTasks({ tasks, retry: req.body.retry, by: actor(req) });
      const created = res.outcomes.filter((o) => o === 'created').length;
      log.info(
        { event: 'task_created', count: created, taskIds: res.tasks.slice(0, 20).map((t) => t.id) },
        `${created} tasks created`,
      );
      reply.code(created > 0 ? 201 : 200);
      return res;
    },
  );

  app.get(
    '/tasks',
    {
      schema: {
        tags,
        summary: 'List tasks (newest first; a session’s tasks by index), with cursor pagination',
        querystring: TaskQuery,
        response: { 200: TaskPage, ...problems(400, 401, 403, 429, 503) },
      },
      config: { access: 'read' },
    },
    async (req) => store.listTasks(req.query),
  );

  app.get(
    '/tasks/counts',
    {
      schema: {
        tags,
        summary: 'Count tasks by status',
        querystring: CountQuery,
        response: { 200: Counts, ...problems(400, 401, 403, 429, 503) },
      },
      config: { access: 'read' },
    },
    async (req) => store.countTasks(req.query),
  );

  app.get(
    '/tasks/:id',
    {
      schema: {
        tags,
        summary: 'Read a task, with why it is not running (`waitingOn`)',
        params: IdParams,
        response: { 200: TaskDetailOut, ...problems(400, 401, 403, 404) },
      },
      config: { access: 'read' },
    },
    async (req) => {
      const task = await store.getTask(req.params.id);
      return { ...task, waitingOn: await store.waitingOn(task.id) };
    },
  );

  app.get(
    '/tasks/:id/events',
    {
      schema: {
        tags,
        summary: 'A task’s event history, oldest first',
        params: IdParams,
        querystring: z.strictObject({
          afterId: z.coerce.number().int().min(0).optional(),
          limit: z.coerce.number().int().min(1).max(5000).optional(),
        }),
        response: { 200: z.object({ items: z.array(TaskEventOut) }), ...problems(400, 401, 403, 404) },
      },
      config: { access: 'read' },
    },
    async (req) => ({ items: await store.getTaskEvents(req.params.id, req.query) }),
  );

  app.post(
    '/tasks/:id/retry',
    {
      schema: {
        tags,
        summary: 'Retry a failed or cancelled task by hand',
        params: IdParams,
        body: RetryBody.optional(),
        response: { 200: TaskOut, ...problems(400, 401, 403, 404, 409) },
      },
      config: { access: 'admin' },
    },
    async (req) => {
      const b = req.body ?? {};
      const task = await store.retryTask({
        taskId: req.params.id,
        by: actor(req, b.by),
        reason: b.reason,
        avoidLastMachine: b.avoidLastMachine,
        avoidLabels: b.avoidLabels,
      });
      log.info(
        { event: 'task_retried_by_hand', taskId: task.id, by: actor(req, b.by), reason: b.reason },
        'retried',
      );
      return task;
    },
  );

  app.post(
    '/tasks/:id/cancel',
    {
      schema: {
        tags,
        summary: 'Cancel a task (a running one is told through its worker’s heartbeat)',
        params: IdParams,
        body: ByReason.optional(),
        response: { 200: TaskOut, ...problems(400, 401, 403, 404, 409) },
      },
      config: { access: 'admin' },
    },
    async (req) => {
      const b = req.body ?? {};
      const task = await store.cancelTask({ taskId: req.params.id, by: actor(req, b.by), reason: b.reason });
      log.info({ event: 'task_cancel_requested', taskId: task.id, status: task.status }, 'cancel requested');
      return task;
    },
  );

  app.delete(
    '/tasks/:id',
    {
      schema: {
        tags,
        summary: 'Delete a task and its history',
        params: IdParams,
        response: problems(400, 401, 403, 404),
      },
      config: { access: 'admin' },
    },
    async (req, reply) => {
      await store.deleteTask(req.params.id);
      log.info({ event: 'task_deleted', taskId: req.params.id }, 'task deleted');
      return noContent(reply);
    },
  );

  app.post(
    '/tasks/retry',
    {
      schema: {
        tags,
        summary: 'Retry the failed and cancelled tasks matching a filter (redrive)',
        body: FilterBody,
        response: { 200: BulkResultOut, ...problems(400, 401, 403) },
      },
      config: { access: 'admin' },
    },
    async (req) => {
      const res = await store.retryTasks({
        filter: requireFilter(req.body.filter),
        by: actor(req, req.body.by),
        reason: req.body.reason,
      });
      log.info(
        { event: 'task_retried_by_hand', count: res.changed, taskIds: res.ids.slice(0, 20) },
        'bulk retry',
      );
      return res;
    },
  );

  app.post(
    '/tasks/cancel',
    {
      schema: {
        tags,
        summary: 'Cancel the unfinished tasks matching a filter',
        body: FilterBody,
        response: { 200: BulkResultOut, ...problems(400, 401, 403) },
      },
      config: { access: 'admin' },
    },
    async (req) => {
      const res = await store.cancelTasks({
        filter: requireFilter(req.body.filter),
        by: actor(req, req.body.by),
        reason: req.body.reason,
      });
      log.info({ event: 'task_cancel_requested', count: res.changed }, 'bulk cancel');
      return res;
    },
  );
}
