import type { ServerContext, ZodApp } from '../context.js';
import { problems } from '../schemas.js';
import { snapshot } from './stats.js';

/** How often the live stream sends a snapshot. */
export const LIVE_INTERVAL_MS = 1000;

/**
 * GET /api/v1/live: a server-sent-events stream for the dashboard. Every second
 * it sends a `snapshot` event with the same body as GET /api/v1/stats; when the
 * database is unreachable it sends an `unavailable` event instead and carries on.
 */
export function registerLiveRoutes(app: ZodApp, ctx: ServerContext): void {
  const streams = new Set<() => void>();
  // A closing server ends the streams, so it does not wait on them.
  app.addHook('preClose', async () => {
    for (const end of streams) end();
  });

  app.get(
    '/live',
    {
      schema: {
        tags: ['stats'],
        summary: 'Server-sent events: a `snapshot` event (the body of GET /stats) every second',
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
      let closed = false;
      let timer: NodeJS.Timeout | null = null;
      const send = async () => {
        if (closed) return;
        try {
          const snap = await snapshot(ctx.store);
          if (!closed) res.write(`event: snapshot\ndata: ${JSON.stringify(snap)}\n\n`);
        } catch (err) {
          if (!closed) res.write(`event: unavailable\ndata: ${JSON.stringify({ detail: String(err) })}\n\n`);
        }
        if (!closed) timer = setTimeout(() => void send(), LIVE_INTERVAL_MS);
      };
      const stop = () => {
        closed = true;
        if (timer) clearTimeout(timer);
        streams.delete(end);
      };
      const end = () => {
        stop();
        res.end();
      };
      streams.add(end);
      res.on('close', stop);
      void send();
    },
  );
}
