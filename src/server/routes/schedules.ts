import { z } from 'zod';
import { isTimeZone, MAX_EVERY_MS, MIN_EVERY_MS, timingProblems } from '../../core/schedule-times.js';
import type { UpsertScheduleParams } from '../../store/schedule-types.js';
import type { ServerContext, ZodApp } from '../context.js';
import { noContent, problems } from '../responses.js';
import { Backoff, JsonObject, JsonValue, Limit, Name, Text } from '../schemas.js';

const tags = ['schedules'];

const NameParams = z.strictObject({ name: Name });

const Cron = z
  .string()
  .max(200, 'must be at most 200 characters')
  .superRefine((cron, c) => {
    // The expression alone (read in UTC); the time zone is checked on its own field.
    const bad = timingProblems({ cron, timezone: 'UTC' }).find((p) => p.field === 'cron');
    if (bad) c.addIssue({ code: 'custom', message: bad.message });
  })
  .describe('cron expression: 5 fields (minute hour day month weekday), or 6 with seconds first');
const TimeZone = z
  .string()
  .refine(isTimeZone, 'must be an IANA time zone such as UTC or Europe/Berlin')
  .describe('IANA time zone the cron is read in (default UTC)');

const TaskOptions = z.strictObject({
  queue: Name.optional(),
  priority: z.number().int().min(-1_000_000).max(1_000_000).optional(),
  maxAttempts: z.number().int().min(1).max(1000).optional(),
  timeoutMs: z
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 3600_000)
    .optional(),
  backoff: Backoff.optional(),
  metadata: JsonObject.optional(),
  key: Text.optional(),
  userId: Text.optional(),
});

const ScheduleBody = z.strictObject({
  cron: Cron.nullable().optional(),
  everyMs: z
    .number()
    .int()
    .min(MIN_EVERY_MS)
    .max(MAX_EVERY_MS)
    .nullable()
    .optional()
    .describe('every N ms instead of a cron'),
  timezone: TimeZone.optional(),
  type: Name,
  payload: JsonValue.optional(),
  task: TaskOptions.optional().describe('options of every task the schedule creates'),
  catchUp: z.enum(['skip', 'run']).optional().describe('ticks missed in a downtime: skip (default) or run'),
  catchUpLimit: z
    .number()
    .int()
    .min(1)
    .max(1000)
    .optional()
    .describe('with run: at most this many, the newest'),
  paused: z.boolean().optional(),
});

const D = z.date();
export const ScheduleOut = z
  .object({
    name: z.string(),
    cron: z.string().nullable(),
    everyMs: z.number().nullable(),
    timezone: z.string(),
    type: z.string(),
    payload: JsonValue,
    task: TaskOptions,
    catchUp: z.enum(['skip', 'run']),
    catchUpLimit: z.number(),
    paused: z.boolean(),
    nextRunAt: D.nullable(),
    upcoming: z.array(D),
    lastTickAt: D.nullable(),
    lastTaskId: z.string().nullable(),
    runs: z.number(),
    skipped: z.number(),
    anchorAt: D,
    createdAt: D,
    updatedAt: D,
  })
  .meta({ id: 'Schedule' });

const ScheduleEventOut = z.object({
  id: z.number(),
  schedule: z.string(),
  kind: z.string(),
  data: JsonObject,
  at: D,
});

const ListQuery = z.strictObject({
  limit: Limit.default(100),
  cursor: z.string().max(200).optional(),
  paused: z
    .enum(['true', 'false'])
    .transform((v) => v === 'true')
    .optional(),
});

export function registerScheduleRoutes(app: ZodApp, ctx: ServerContext): void {
  const { store, log } = ctx;

  app.put(
    '/schedules/:name',
    {
      schema: {
        tags,
        summary: 'Create or change a schedule by name: a task of its type per cron or interval tick',
        params: NameParams,
        body: ScheduleBody,
        response: {
          200: z.object({ schedule: ScheduleOut, created: z.boolean() }),
          201: z.object({ schedule: ScheduleOut, created: z.boolean() }),
          ...problems(400, 401, 403),
        },
      },
      config: { access: 'create' },
    },
    async (req, reply) => {
      const body = req.body as Omit<UpsertScheduleParams, 'name'>;
      // Its payload must fit the type's schema now, not fail at every tick.
      await ctx.payloads.check([{ type: body.type, payload: body.payload }], () => '');
      const out = await store.upsertSchedule({ ...body, name: req.params.name });
      log.info(
        { event: out.created ? 'schedule_created' : 'schedule_updated', schedule: out.schedule.name },
        out.created ? 'schedule created' : 'schedule updated',
      );
      reply.code(out.created ? 201 : 200);
      return out;
    },
  );

  app.get(
    '/schedules',
    {
      schema: {
        tags,
        summary: 'List schedules by name, with their next run times',
        querystring: ListQuery,
        response: {
          200: z.object({ items: z.array(ScheduleOut), nextCursor: z.string().nullable() }),
          ...problems(400, 401, 403),
        },
      },
      config: { access: 'read' },
    },
    async (req) => store.listSchedules(req.query),
  );

  app.get(
    '/schedules/:name',
    {
      schema: {
        tags,
        summary: 'A schedule with its next run times',
        params: NameParams,
        response: { 200: ScheduleOut, ...problems(400, 401, 403, 404) },
      },
      config: { access: 'read' },
    },
    async (req) => store.getSchedule(req.params.name),
  );

  app.get(
    '/schedules/:name/events',
    {
      schema: {
        tags,
        summary: 'A schedule’s history, newest first: changes, pauses, ticks skipped or caught up',
        params: NameParams,
        querystring: z.strictObject({ limit: Limit.default(100) }),
        response: { 200: z.object({ items: z.array(ScheduleEventOut) }), ...problems(400, 401, 403, 404) },
      },
      config: { access: 'read' },
    },
    async (req) => ({ items: await store.getScheduleEvents(req.params.name, req.query) }),
  );

  for (const action of ['pause', 'resume'] as const) {
    app.post(
      `/schedules/:name/${action}`,
      {
        schema: {
          tags,
          summary:
            action === 'pause'
              ? 'Pause a schedule: no ticks until it is resumed'
              : 'Resume a schedule from its next tick (the paused ones are not caught up)',
          params: NameParams,
          response: { 200: ScheduleOut, ...problems(400, 401, 403, 404) },
        },
        config: { access: 'admin' },
      },
      async (req) => {
        const p = { name: req.params.name };
        const out = action === 'pause' ? await store.pauseSchedule(p) : await store.resumeSchedule(p);
        log.info({ event: `schedule_${action}d`, schedule: out.name }, `schedule ${action}d`);
        return out;
      },
    );
  }

  app.delete(
    '/schedules/:name',
    {
      schema: {
        tags,
        summary: 'Delete a schedule (the tasks it created stay)',
        params: NameParams,
        response: problems(400, 401, 403, 404),
      },
      config: { access: 'admin' },
    },
    async (req, reply) => {
      await store.deleteSchedule(req.params.name);
      log.info({ event: 'schedule_deleted', schedule: req.params.name }, 'schedule deleted');
      return noContent(reply);
    },
  );
}
