import { z } from 'zod';
import type { GafferMetrics } from '../../engine/metrics.js';
import type { ZodApp } from '../context.js';
import { problems } from '../responses.js';

/**
 * GET /metrics: the Prometheus text exposition (R7.2). Counters and histograms
 * count this node's work; gauges come from the database (one statement per
 * scrape, cached briefly), so every node reports the same depth and ages.
 * Behind a token like the rest of the API when auth is on (a producer token will do).
 */
export function registerMetricsRoutes(app: ZodApp, metrics: GafferMetrics): void {
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['metrics'],
        summary:
          'Prometheus metrics: tasks, attempts, manual retries, latencies, depth, ages, workers, dead letters',
        produces: ['text/plain'],
        response: {
          200: z.string().describe('Prometheus text exposition format 0.0.4'),
          ...problems(401, 403),
        },
      },
      config: { access: 'read' },
    },
    async (_req, reply) => {
      const text = await metrics.metrics();
      return reply.type(metrics.contentType).send(text);
    },
  );
}
