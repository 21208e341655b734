import { z } from 'zod';
import type { ServerContext, ZodApp } from '../context.js';
import { noContent, problems, TaskOut, WorkerEventOut, WorkerOut } from '../responses.js';
import { BoolString, IdParams } from '../schemas.js';

const tags = ['workers'];

const WorkerDetail = z.object({
  worker: WorkerOut,
  events: z.array(WorkerEventOut),
  currentTasks: z.array(TaskOut),
  recentTasks: z.array(TaskOut),
});

/** The fleet view (R4.4, R4.5); the worker protocol itself is in worker-protocol.ts. */
export function registerWorkerRoutes(app: ZodApp, ctx: ServerContext): void {
  const { store, log } = ctx;

  app.get(
    '/workers',
    {
      schema: {
        tags,
        summary:
          'List live workers (stale ones too with includeStale=true), newest first, a page at a time (cursor)',
        querystring: z.strictObject({
          includeStale: BoolString.optional(),
          machineId: z.string().min(1).max(255).optional(),
          limit: z.coerce.number().int().min(1).max(1000).optional(),
          cursor: z.string().min(1).max(200).optional(),
        }),
        response: {
          200: z.object({ items: z.array(WorkerOut), nextCursor: z.string().nullable() }),
          ...problems(400, 401, 403),
        },
      },
      config: { access: 'read' },
    },
    async (req) => store.listWorkersPage(req.query),
  );

  app.get(
    '/workers/:id',
    {
      schema: {
        tags,
        summary: 'A worker with its latest events, the tasks it runs now and those it ran recently',
        params: IdParams,
        response: { 200: WorkerDetail, ...problems(400, 401, 403, 404) },
      },
      config: { access: 'read' },
    },
    async (req) => {
      const id = req.params.id;
      const worker = await store.getWorker(id);
      const [events, current, recent] = await Promise.all([
        store.getWorkerEvents(id, { limit: 100 }),
        store.listTasks({ workerId: id, status: 'running', limit: 1000 }),
        store.listTasks({ workerId: id, status: ['completed', 'failed', 'cancelled'], limit: 50 }),
      ]);
      return { worker, events, currentTasks: current.items, recentTasks: recent.items };
    },
  );

  app.get(
    '/workers/:id/events',
    {
      schema: {
        tags,
        summary: 'A worker’s events (state changes, registrations, staleness), newest first',
        params: IdParams,
        querystring: z.strictObject({ limit: z.coerce.number().int().min(1).max(1000).optional() }),
        response: { 200: z.object({ items: z.array(WorkerEventOut) }), ...problems(400, 401, 403, 404) },
      },
      config: { access: 'read' },
    },
    async (req) => {
      await store.getWorker(req.params.id);
      return { items: await store.getWorkerEvents(req.params.id, { limit: req.query.limit }) };
    },
  );

  app.delete(
    '/workers/:id',
    {
      schema: {
        tags,
        summary: 'Delete a worker (a live one is made stale first; its tasks go back to the queue)',
        params: IdParams,
        response: problems(400, 401, 403, 404),
      },
      config: { access: 'admin' },
    },
    async (req, reply) => {
      await store.deleteWorker(req.params.id);
      log.info({ event: 'worker_deleted', workerId: req.params.id }, 'worker deleted');
      return noContent(reply);
    },
  );
}
