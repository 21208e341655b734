import { z } from 'zod';
import type { Store } from '../../store/store.js';
import type { ServerContext, ZodApp } from '../context.js';
import { Counts, problems, QueueStatOut } from '../responses.js';

export const StatsOut = z
  .object({
    counts: Counts,
    queues: z.array(QueueStatOut),
    workers: z.object({ live: z.number(), stale: z.number() }),
  })
  .meta({ id: 'Stats' });

export type Stats = z.infer<typeof StatsOut>;

/** Counts by status, depth and oldest age per queue, and live / stale workers: the overview. */
export async function snapshot(store: Store): Promise<Stats> {
  const [counts, queues, workers] = await Promise.all([
    store.countTasks({}),
    store.queueStats(),
    store.countWorkers(),
  ]);
  return { counts, queues, workers };
}

export function registerStatsRoutes(app: ZodApp, ctx: ServerContext): void {
  app.get(
    '/stats',
    {
      schema: {
        tags: ['stats'],
        summary: 'Task counts by status, depth and oldest age per queue, live and stale workers',
        response: { 200: StatsOut, ...problems(401, 403, 503) },
      },
      config: { access: 'read' },
    },
    async () => snapshot(ctx.store),
  );
}
