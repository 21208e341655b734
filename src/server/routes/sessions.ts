import { z } from 'zod';
import type { CreateSessionParams } from '../../store/types.js';
import { actor } from '../auth.js';
import type { ServerContext, ZodApp } from '../context.js';
import { BulkResultOut, noContent, Outcome, problems, SessionOut, TaskOut } from '../responses.js';
import { ByReason, CreateSessionBody, IdParams, Limit, Text } from '../schemas.js';

const tags = ['sessions'];

const CreatedSession = z.object({
  session: SessionOut,
  tasks: z.array(TaskOut),
  outcomes: z.array(Outcome),
  created: z.boolean(),
});
const SessionQuery = z.strictObject({
  key: Text.optional(),
  userId: Text.optional(),
  status: z.enum(['active', 'completed', 'failed', 'cancelled']).optional(),
  limit: Limit.default(50),
  cursor: z.string().max(100).optional(),
});

export function registerSessionRoutes(app: ZodApp, ctx: ServerContext): void {
  const { store, log } = ctx;

  app.post(
    '/sessions',
    {
      schema: {
        tags,
        summary:
          'Create a session with N tasks (task i gets index i for ever); re-sending it duplicates nothing',
        body: CreateSessionBody,
        response: { 200: CreatedSession, 201: CreatedSession, ...problems(400, 401, 403, 409, 413, 429) },
      },
      config: { access: 'create' },
    },
    async (req, reply) => {
      const body = req.body as CreateSessionParams;
      await ctx.payloads.check(body.tasks, (i) => `tasks[${i}].`);
      const res = await store.createSession({ ...body, by: actor(req) });
      log.info(
        {
          event: res.created ? 'session_created' : 'session_resent',
          sessionId: res.session.id,
          key: res.session.key,
          tasks: res.tasks.length,
          retried: res.outcomes.filter((o) => o === 'retried').length,
        },
        res.created ? 'session created' : 'session sent again',
      );
      reply.code(res.created ? 201 : 200);
      return res;
    },
  );

  app.get(
    '/sessions',
    {
      schema: {
        tags,
        summary: 'List sessions, newest first',
        querystring: SessionQuery,
        response: {
          200: z.object({ items: z.array(SessionOut), nextCursor: z.string().nullable() }),
          ...problems(400, 401, 403),
        },
      },
      config: { access: 'read' },
    },
    async (req) => store.listSessions(req.query),
  );

  app.get(
    '/sessions/:id',
    {
      schema: {
        tags,
        summary: 'A session with its tasks in index order',
        params: IdParams,
        response: {
          200: z.object({ session: SessionOut, tasks: z.array(TaskOut) }),
          ...problems(400, 401, 403, 404),
        },
      },
      config: { access: 'read' },
    },
    async (req) => {
      const [session, tasks] = await Promise.all([
        store.getSession(req.params.id),
        store.getSessionTasks(req.params.id),
      ]);
      return { session, tasks };
    },
  );

  app.delete(
    '/sessions/:id',
    {
      schema: {
        tags,
        summary: 'Delete a session: its running tasks are cancelled, then its tasks and events go',
        params: IdParams,
        response: problems(400, 401, 403, 404),
      },
      config: { access: 'admin' },
    },
    async (req, reply) => {
      await store.deleteSession(req.params.id);
      log.info({ event: 'session_deleted', sessionId: req.params.id }, 'session deleted');
      return noContent(reply);
    },
  );

  app.post(
    '/sessions/:id/cancel',
    {
      schema: {
        tags,
        summary: 'Cancel every unfinished task of a session',
        params: IdParams,
        body: ByReason.optional(),
        response: { 200: BulkResultOut, ...problems(400, 401, 403, 404) },
      },
      config: { access: 'admin' },
    },
    async (req) => {
      const res = await store.cancelSession({
        sessionId: req.params.id,
        by: actor(req, req.body?.by),
        reason: req.body?.reason,
      });
      log.info(
        { event: 'task_cancel_requested', sessionId: req.params.id, count: res.changed },
        'session cancelled',
      );
      return res;
    },
  );

  app.post(
    '/sessions/:id/retry-failed',
    {
      schema: {
        tags,
        summary: 'Retry every failed task of a session',
        params: IdParams,
        body: ByReason.optional(),
        response: { 200: BulkResultOut, ...problems(400, 401, 403, 404) },
      },
      config: { access: 'admin' },
    },
    async (req) => {
      const by = actor(req, req.body?.by);
      const res = await store.retrySessionFailed({ sessionId: req.params.id, by, reason: req.body?.reason });
      log.info(
        { event: 'task_retried_by_hand', sessionId: req.params.id, count: res.changed, by },
        'session retried',
      );
      return res;
    },
  );
}
