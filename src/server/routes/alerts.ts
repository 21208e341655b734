import { z } from 'zod';
import type { ServerContext, ZodApp } from '../context.js';
import { problems } from '../responses.js';
import { Limit } from '../schemas.js';

export const AlertOut = z
  .object({
    id: z.number(),
    rule: z.string().describe('dead_letters, oldest_queued or no_live_worker'),
    subject: z.string().describe("what the finding is about within its rule: a queue, queue/type, or ''"),
    severity: z.enum(['warning', 'critical']),
    status: z.enum(['firing', 'resolved']),
    summary: z.string(),
    value: z.number().nullable(),
    threshold: z.number().nullable(),
    labels: z.record(z.string(), z.string()),
    firedAt: z.date(),
    resolvedAt: z.date().nullable(),
    lastEvaluatedAt: z.date(),
  })
  .meta({ id: 'Alert' });

/** Alerts kept by the maintenance leader (R7.3): firing first, then the newest. */
export function registerAlertRoutes(app: ZodApp, ctx: ServerContext): void {
  app.get(
    '/alerts',
    {
      schema: {
        tags: ['alerts'],
        summary: 'Alerts with their fired and resolved times, firing first (status=firing for only those)',
        querystring: z.strictObject({
          status: z.enum(['firing', 'resolved']).optional(),
          limit: Limit.optional(),
        }),
        response: { 200: z.object({ items: z.array(AlertOut) }), ...problems(400, 401, 403, 503) },
      },
      config: { access: 'read' },
    },
    async (req) => ({ items: await ctx.store.listAlerts(req.query) }),
  );
}
