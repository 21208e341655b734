import { z } from 'zod';
import type { ServerContext, ZodApp } from '../context.js';
import { isConnectionError, problem, sendProblem, unavailableReason } from '../problems.js';
import { problems } from '../responses.js';

/** A readiness probe waits this long for the database before calling it unreachable. */
const READY_TIMEOUT_MS = 3000;

/** /healthz: the process answers. /readyz: the database answers too (R7.4). */
export function registerHealthRoutes(app: ZodApp, ctx: ServerContext): void {
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['health'],
        summary: 'The process is up',
        response: { 200: z.object({ status: z.literal('ok') }) },
      },
      config: { access: 'public' },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['health'],
        summary: 'The database is reachable (503 with the reason when not)',
        response: { 200: z.object({ status: z.literal('ready'), store: z.string() }), ...problems(503) },
      },
      config: { access: 'public' },
    },
    async (_req, reply) => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          ctx.store.hasTokens(),
          new Promise((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`the database did not answer within ${READY_TIMEOUT_MS} ms`)),
              READY_TIMEOUT_MS,
            );
          }),
        ]);
        return { status: 'ready' as const, store: ctx.store.kind };
      } catch (err) {
        const detail = isConnectionError(err)
          ? unavailableReason(err)
          : `the database is not ready: ${(err as Error).message}`;
        return sendProblem(reply, problem(503, 'unavailable', detail));
      } finally {
        clearTimeout(timer);
      }
    },
  );
}
