import { z } from 'zod';
import { NotFoundError } from '../../core/errors.js';
import type { ServerContext, ZodApp } from '../context.js';
import { noContent, problems } from '../responses.js';
import { Name } from '../schemas.js';

const tags = ['flow control'];

const Scope = z
  .enum(['queue', 'type'])
  .describe('queue: every task of the queue; type: every task of the type');
const Target = z.strictObject({ scope: Scope, name: Name });
const Count = z.number().int().min(1).max(1_000_000);
const Rate = z
  .strictObject({
    limit: z.number().int().min(1).max(10_000).describe('starts allowed in any window of intervalMs'),
    intervalMs: z
      .number()
      .int()
      .min(1)
      .max(24 * 3600_000),
  })
  .meta({ id: 'RateLimit' });

const LimitsBody = z.strictObject({
  concurrency: Count.nullable()
    .optional()
    .describe('at most this many of the scope running at once, fleet-wide'),
  keyConcurrency: Count.nullable().optional().describe('at most this many running per concurrency key'),
  rate: Rate.nullable().optional().describe('at most limit starts of the scope per intervalMs'),
  keyRate: Rate.nullable().optional().describe('at most limit starts per concurrency key per intervalMs'),
});

export const FlowControlOut = z
  .object({
    scope: Scope,
    name: z.string(),
    paused: z.boolean(),
    pausedAt: z.date().nullable(),
    pausedBy: z.string().nullable(),
    concurrency: z.number().nullable(),
    keyConcurrency: z.number().nullable(),
    rate: Rate.nullable(),
    keyRate: Rate.nullable(),
    running: z.number().describe('tasks of the scope running now'),
    waiting: z
      .number()
      .describe(
        'queued and retrying tasks held back now by the pause, a full concurrency limit or rate window',
      ),
    rateLimitedUntil: z
      .date()
      .nullable()
      .describe('while the rate window is full: when the next start may happen'),
    keysAtLimit: z.number().describe('keys whose running tasks fill keyConcurrency'),
    keysRateLimited: z.number().describe('keys whose rate window is full'),
    updatedAt: z.date(),
  })
  .meta({ id: 'FlowControl' });

const ControlResult = z.object({ control: FlowControlOut.nullable() });

/**
 * Flow control of queues and task types: limits (PUT replaces them all, DELETE removes them),
 * pause and resume. Claims enforce them in their own transaction, on every server.
 */
export function registerLimitRoutes(app: ZodApp, ctx: ServerContext): void {
  const { store, log } = ctx;

  app.get(
    '/limits',
    {
      schema: {
        tags,
        summary: 'Every queue and type under flow control, with what runs and what waits on it',
        querystring: z.strictObject({ scope: Scope.optional(), name: Name.optional() }),
        response: { 200: z.object({ items: z.array(FlowControlOut) }), ...problems(400, 401, 403) },
      },
      config: { access: 'read' },
    },
    async (req) => ({ items: await store.listFlowControls(req.query) }),
  );

  app.get(
    '/limits/:scope/:name',
    {
      schema: {
        tags,
        summary: "One queue's or type's flow control",
        params: Target,
        response: { 200: FlowControlOut, ...problems(400, 401, 403, 404) },
      },
      config: { access: 'read' },
    },
    async (req) => {
      const [control] = await store.listFlowControls(req.params);
      if (!control) throw new NotFoundError(`flow control of ${req.params.scope}`, req.params.name);
      return control;
    },
  );

  app.put(
    '/limits/:scope/:name',
    {
      schema: {
        tags,
        summary: "Set a queue's or type's limits (all of them: one left out is removed)",
        params: Target,
        body: LimitsBody,
        response: { 200: FlowControlOut, ...problems(400, 401, 403) },
      },
      config: { access: 'admin' },
    },
    async (req) => {
      const out = await store.setLimits({ ...req.params, ...req.body });
      log.info({ event: 'limits_set', ...req.params, limits: req.body }, 'limits set');
      return out;
    },
  );

  app.delete(
    '/limits/:scope/:name',
    {
      schema: {
        tags,
        summary: "Remove a queue's or type's limits (a pause stays)",
        params: Target,
        response: problems(400, 401, 403, 404),
      },
      config: { access: 'admin' },
    },
    async (req, reply) => {
      if (!(await store.clearLimits(req.params)))
        throw new NotFoundError(`flow control of ${req.params.scope}`, req.params.name);
      log.info({ event: 'limits_cleared', ...req.params }, 'limits cleared');
      return noContent(reply);
    },
  );

  app.post(
    '/limits/:scope/:name/pause',
    {
      schema: {
        tags,
        summary: 'Pause a queue or type: nothing new is claimed, running tasks finish; survives restarts',
        params: Target,
        body: z.strictObject({ by: z.string().min(1).max(255).optional() }).optional(),
        response: { 200: ControlResult, ...problems(400, 401, 403) },
      },
      config: { access: 'admin' },
    },
    async (req) => {
      const control = await store.pauseFlow({ ...req.params, by: req.body?.by ?? 'api' });
      log.info({ event: 'paused', ...req.params }, `${req.params.scope} paused`);
      return { control };
    },
  );

  app.post(
    '/limits/:scope/:name/resume',
    {
      schema: {
        tags,
        summary: 'Resume a paused queue or type (control: null when no limit is left on it)',
        params: Target,
        response: { 200: ControlResult, ...problems(400, 401, 403) },
      },
      config: { access: 'admin' },
    },
    async (req) => {
      const control = await store.resumeFlow(req.params);
      log.info({ event: 'resumed', ...req.params }, `${req.params.scope} resumed`);
      return { control };
    },
  );
}
