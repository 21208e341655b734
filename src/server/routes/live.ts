import { z } from 'zod';
import type { ServerContext, ZodApp } from '../context.js';
import { LiveFeed } from '../live-feed.js';
import { problems } from '../responses.js';

/** How often the live stream sends a snapshot. */
export const LIVE_INTERVAL_MS = 1000;
/** A comment line this often keeps proxies from closing a quiet stream. */
const KEEPALIVE_MS = 15_000;

const ThroughputOut = z
  .object({
    bucketMs: z.number(),
    points: z.array(z.object({ at: z.string(), completed: z.number(), failed: z.number() })),
  })
  .meta({ id: 'Throughput' });

/**
 * The dashboard's live side.
 * - GET /api/v1/live: server-sent events. Every second a `snapshot` event with the
 *   body of GET /api/v1/stats; when the database is unreachable an `unavailable`
 *   event instead, and the stream carries on. Between snapshots, a `change` event
 *   ({at}) when this process saw tasks or workers change. One shared feed reads the
 *   snapshot once a tick for all open streams.
 * - GET /api/v1/stats/throughput: tasks completed and failed per minute over the
 *   last hour, sampled by the same feed (see ../throughput.ts).
 */
export function registerLiveRoutes(app: ZodApp, ctx: ServerContext): void {
  const feed = new LiveFeed(ctx.store, ctx.log, LIVE_INTERVAL_MS);
  const streams = new Set<() => void>();
  feed.start();
  // A closing server ends the streams, so it does not wait on them.
  app.addHook('preClose', async () => {
    for (const end of streams) end();
    feed.stop();
  });

  app.get(
    '/live',
    {
      schema: {
        tags: ['stats'],
        summary:
          'Server-sent events: a `snapshot` event (the body of GET /stats) every second, `change` events between',
        response: problems(401, 403),
      },
      config: { access: 'read' },
    },
    (_req, reply) => {
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      res.write('retry: 2000\n\n');
      const unsubscribe = feed.subscribe((event, data) => {
        res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      });
      const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
      keepalive.unref();
      const stop = () => {
        unsubscribe();
        clearInterval(keepalive);
        streams.delete(end);
      };
      const end = () => {
        stop();
        res.end();
      };
      streams.add(end);
      res.on('close', stop);
    },
  );

  app.get(
    '/stats/throughput',
    {
      schema: {
        tags: ['stats'],
        summary: 'Tasks completed and failed per minute over the last hour',
        response: { 200: ThroughputOut, ...problems(401, 403) },
      },
      config: { access: 'read' },
    },
    async () => ({ bucketMs: 60_000, points: await ctx.store.throughput({ minutes: 60 }) }),
  );
}
