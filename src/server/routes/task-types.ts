import { z } from 'zod';
import { GafferError } from '../../core/errors.js';
import type { Json } from '../../store/types.js';
import type { ServerContext, ZodApp } from '../context.js';
import { problems, TaskTypeOut } from '../responses.js';
import { Backoff, JsonValue, Name, Tracking } from '../schemas.js';

const tags = ['task types'];

const TypeParams = z.strictObject({ type: Name });
const TypeBody = z.strictObject({
  tracking: Tracking.optional().describe('session entries: track (default), hold until released, or none'),
  maxAttempts: z.number().int().min(1).max(1000).nullable().optional(),
  timeoutMs: z
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 3600_000)
    .nullable()
    .optional(),
  backoff: Backoff.nullable().optional(),
  payloadSchema: JsonValue.optional().describe(
    'JSON Schema every payload of this type must match; null removes it',
  ),
});

export function registerTaskTypeRoutes(app: ZodApp, ctx: ServerContext): void {
  const { store, log } = ctx;

  app.put(
    '/task-types/:type',
    {
      schema: {
        tags,
        summary: 'Declare or change a task type: tracking policy, defaults and payload schema',
        params: TypeParams,
        body: TypeBody,
        response: { 200: TaskTypeOut, ...problems(400, 401, 403) },
      },
      config: { access: 'create' },
    },
    async (req) => {
      const b = req.body;
      // Refuse a schema that does not compile now, not at the first create.
      if (b.payloadSchema !== undefined && b.payloadSchema !== null)
        ctx.payloads.compile(b.payloadSchema as Json);
      const out = await store.upsertTaskType({ type: req.params.type, ...b });
      ctx.payloads.forget(req.params.type);
      log.info({ event: 'task_type_updated', type: out.type, tracking: out.tracking }, 'task type updated');
      return out;
    },
  );

  app.get(
    '/task-types',
    {
      schema: {
        tags,
        summary: 'List task types',
        response: { 200: z.object({ items: z.array(TaskTypeOut) }), ...problems(401, 403) },
      },
      config: { access: 'read' },
    },
    async () => ({ items: await store.listTaskTypes() }),
  );

  app.get(
    '/task-types/:type',
    {
      schema: {
        tags,
        summary: 'Read a task type',
        params: TypeParams,
        response: { 200: TaskTypeOut, ...problems(400, 401, 403, 404) },
      },
      config: { access: 'read' },
    },
    async (req) => {
      const t = await store.getTaskType(req.params.type);
      if (!t) {
        throw new GafferError(
          'not_found',
          `task type ${JSON.stringify(req.params.type)} was never declared; PUT /api/v1/task-types/${req.params.type} declares it`,
        );
      }
      return t;
    },
  );
}
