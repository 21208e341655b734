import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ConflictError, GafferError, WorkerNotLiveError } from '../../core/errors.js';
import type { ClaimedTask, Json } from '../../store/types.js';
import type { ServerContext, ZodApp } from '../context.js';
import { ClaimedTaskOut, noContent, problems } from '../responses.js';
import { Id, JsonObject, JsonValue, Name, Text } from '../schemas.js';
import { inScope, narrow, scopeOf } from '../scope.js';
import { Ref, registerWorkerReportRoutes, WorkerParams } from './worker-reports.js';
import { registerWorkerWaitRoutes } from './worker-waits.js';

const tags = ['worker protocol'];

/** Longest long-poll a claim may ask for (R5.1). */
export const MAX_WAIT_MS = 20_000;

const RegisterBody = z.strictObject({
  machineId: Text,
  name: Text.optional().describe(
    'slot on the machine: registering the same machine + name again retires the earlier worker',
  ),
  hostname: Text.optional(),
  pid: z.number().int().min(0).optional(),
  version: z.string().max(100).optional(),
  types: z.array(Name).max(1000).default([]),
  queues: z.array(Name).max(1000).optional(),
  concurrency: z.number().int().min(1).max(10_000).optional(),
  labels: z.record(z.string().max(100), z.string().max(255)).optional(),
});
const Registered = z.object({
  workerId: z.string(),
  leaseMs: z.number(),
  staleAfterMs: z.number(),
  heartbeatMs: z.number().describe('heartbeat at least this often'),
});
const HeartbeatBody = z.strictObject({
  held: z
    .array(Ref)
    .max(10_000)
    .optional()
    .describe('the attempts this worker runs; the answer names those it lost'),
  state: JsonValue.optional(),
  stats: z
    .strictObject({
      processed: z.number().int().min(0),
      failed: z.number().int().min(0),
      startedAt: z.string().optional(),
    })
    .optional(),
  liveness: z
    .strictObject({
      eventLoopLagMs: z
        .number()
        .min(0)
        .max(1e9)
        .describe('how long the loop that runs handlers could not run, ms'),
      heartbeatThread: z.boolean().describe('heartbeats come from a thread of their own'),
      held: z.number().int().min(0).describe('attempts the worker holds'),
    })
    .optional()
    .describe('the "suspected stuck" signal, kept on the worker and shown in GET /workers and /metrics'),
});
const HeartbeatOut = z.object({
  live: z.boolean().describe('false: this worker is stale; register again'),
  cancelled: z.array(z.object({ taskId: z.string(), attempt: z.number() })),
  lost: z.array(z.object({ taskId: z.string(), attempt: z.number() })),
  extended: z.number(),
});
const ClaimBody = z.strictObject({
  types: z
    .array(Name)
    .max(1000)
    .optional()
    .describe('defaults to the types the worker registered (any, if none)'),
  queues: z.array(Name).max(1000).optional(),
  limit: z.number().int().min(1).max(1000).default(1),
  waitMs: z
    .number()
    .int()
    .min(0)
    .max(MAX_WAIT_MS)
    .default(0)
    .describe('long-poll: answer as soon as work arrives'),
});

/** The HTTP worker protocol (R6.3): what a worker in any language needs. */
export function registerWorkerProtocolRoutes(app: ZodApp, ctx: ServerContext): void {
  const { store, hub, log, auth } = ctx;
  // A worker's registered types and queues never change: remembered for claims that name none.
  const registered = new Map<string, { types: string[]; queues: string[] }>();

  const owns = async (req: FastifyRequest) =>
    auth.assertOwnsWorker(req, (req.params as { workerId: string }).workerId);
  const config = { access: 'worker' as const };

  async function defaults(workerId: string) {
    const hit = registered.get(workerId);
    if (hit) return hit;
    const w = await store.getWorker(workerId).catch((err: unknown) => {
      // Deleted or never registered: the worker should register again, as for a stale one.
      if (err instanceof GafferError && err.code === 'not_found')
        throw new WorkerNotLiveError(workerId, 'it is not registered');
      throw err;
    });
    if (registered.size > 10_000) registered.clear();
    const out = { types: w.types, queues: w.queues };
    registered.set(workerId, out);
    return out;
  }

  app.post(
    '/worker/register',
    {
      schema: {
        tags,
        summary: 'Register a worker; every start gets a new worker id',
        body: RegisterBody,
        response: { 201: Registered, ...problems(400, 401, 403) },
      },
      config,
    },
    async (req, reply) => {
      const token = req.auth;
      const body = token
        ? {
            ...req.body,
            types: narrow(req.body.types, token.types, 'types', token) ?? [],
            queues: narrow(req.body.queues, token.queues, 'queues', token),
            owner: { tokenId: token.id, admin: token.role === 'admin' },
          }
        : req.body;
      const w = await store.registerWorker(body);
      auth.rememberWorker(w.id, token?.id ?? null);
      registered.set(w.id, { types: w.types, queues: w.queues });
      log.info(
        { event: 'worker_registered', workerId: w.id, machineId: w.machineId, name: w.name, types: w.types },
        'worker registered',
      );
      const { leaseMs, staleAfterMs } = store.options;
      reply.code(201);
      return {
        workerId: w.id,
        leaseMs,
        staleAfterMs,
        heartbeatMs: Math.min(10_000, Math.floor(leaseMs / 3)),
      };
    },
  );

  app.post(
    '/worker/:workerId/heartbeat',
    {
      schema: {
        tags,
        summary:
          'Keep the worker live and its leases extended; the answer carries cancellations and lost leases',
        params: WorkerParams,
        body: HeartbeatBody,
        response: { 200: HeartbeatOut, ...problems(400, 401, 403) },
      },
      config,
      preHandler: owns,
    },
    async (req) => {
      const { workerId } = req.params;
      const b = req.body;
      return hub.heartbeat({
        workerId,
        held: b.held?.map((h) => ({ ...h, workerId })),
        state: b.state,
        stats: b.stats,
        liveness: b.liveness,
      });
    },
  );

  app.post(
    '/worker/:workerId/claim',
    {
      schema: {
        tags,
        summary: 'Claim up to `limit` tasks, long-polling up to `waitMs` (max 20 s) for work to arrive',
        params: WorkerParams,
        body: ClaimBody,
        response: { 200: z.object({ tasks: z.array(ClaimedTaskOut) }), ...problems(400, 401, 403, 409) },
      },
      config,
      preHandler: owns,
    },
    async (req, reply) => {
      const { workerId } = req.params;
      const b = req.body;
      const d = b.types && b.queues ? null : await defaults(workerId);
      const token = req.auth;
      let types = b.types ?? d?.types;
      let queues = b.queues ?? d?.queues;
      if (token && scopeOf(token)) {
        types = narrow(types, token.types, 'types', token);
        queues = narrow(queues, token.queues, 'queues', token);
      }
      const gone = new AbortController();
      const onClose = () => {
        if (!reply.raw.writableFinished) gone.abort();
      };
      reply.raw.once('close', onClose);
      const tasks = await hub.claim({
        workerId,
        types,
        queues,
        limit: b.limit,
        waitMs: b.waitMs,
        signal: gone.signal,
      });
      reply.raw.off('close', onClose);
      if (gone.signal.aborted && tasks.length > 0) {
        // The worker hung up while we claimed: give the tasks back unspent instead of letting leases lapse.
        await store.handBackTasks(tasks.map((t) => ({ taskId: t.id, attempt: t.attempt, workerId })));
        return { tasks: [] };
      }
      for (const t of tasks)
        log.debug(
          {
            event: 'task_claimed',
            taskId: t.id,
            type: t.type,
            sessionId: t.sessionId ?? undefined,
            workerId,
            attempt: t.attempt,
          },
          'claimed',
        );
      return { tasks };
    },
  );

  app.post(
    '/worker/:workerId/claim-session',
    {
      schema: {
        tags,
        summary: 'Claim the task at `index` of a session, or its next free one (409 if held, 404 if absent)',
        params: WorkerParams,
        body: z.strictObject({ sessionId: Id, index: z.number().int().min(0).optional() }),
        response: { 200: z.object({ task: ClaimedTaskOut }), ...problems(400, 401, 403, 404, 409) },
      },
      config,
      preHandler: owns,
    },
    async (req) => {
      const task = await claimSessionTask(req.auth, req.params.workerId, req.body);
      log.info(
        {
          event: 'task_claimed',
          taskId: task.id,
          sessionId: task.sessionId,
          index: task.sessionIndex,
          workerId: req.params.workerId,
        },
        'assignment claimed',
      );
      return { task };
    },
  );

  app.put(
    '/worker/:workerId/state',
    {
      schema: {
        tags,
        summary: 'Set the worker’s free-form state (shown live in the dashboard)',
        params: WorkerParams,
        body: z.strictObject({ state: JsonValue }),
        response: problems(400, 401, 403, 404),
      },
      config,
      preHandler: owns,
    },
    async (req, reply) => {
      await store.setWorkerState({ workerId: req.params.workerId, state: (req.body.state ?? null) as Json });
      return noContent(reply);
    },
  );

  app.delete(
    '/worker/:workerId',
    {
      schema: {
        tags,
        summary:
          'Deregister (graceful shutdown): the worker goes stale and any task it still holds is returned',
        params: WorkerParams,
        body: z.strictObject({ summary: JsonObject.optional() }).optional(),
        response: problems(400, 401, 403, 404),
      },
      config,
      preHandler: owns,
    },
    async (req, reply) => {
      const { workerId } = req.params;
      await hub.idle();
      await store.deregisterWorker({ workerId });
      registered.delete(workerId);
      log.info({ event: 'worker_shutdown', workerId, ...(req.body?.summary ?? {}) }, 'worker deregistered');
      return noContent(reply);
    },
  );

  registerWorkerReportRoutes(app, ctx, { owns, config });
  registerWorkerWaitRoutes(app, ctx, { owns, config });

  /**
   * Claims a session's task; a scoped token only inside its scope: a named index outside it is
   * 403, and "the next free one" is the next free one inside it.
   */
  async function claimSessionTask(
    token: FastifyRequest['auth'],
    workerId: string,
    b: { sessionId: string; index?: number },
  ): Promise<ClaimedTask> {
    const scope = scopeOf(token);
    if (!scope || !token) return store.claimSessionTask({ workerId, ...b });
    const tasks = await store.getSessionTasks(b.sessionId);
    if (b.index !== undefined) {
      const at = tasks.find((t) => t.sessionIndex === b.index);
      if (at && !inScope(scope, at)) throw outOfScope(token.name, at);
      return store.claimSessionTask({ workerId, ...b });
    }
    const free = tasks.filter((t) => t.status === 'queued' || t.status === 'retrying');
    const mine = free.filter((t) => inScope(scope, t));
    for (const t of mine.sort((x, y) => (x.sessionIndex ?? 0) - (y.sessionIndex ?? 0))) {
      try {
        return await store.claimSessionTask({ workerId, sessionId: b.sessionId, index: t.sessionIndex ?? 0 });
      } catch (err) {
        // Taken by another worker since we looked, or not yet due: try the next.
        if (!(err instanceof GafferError && err.code === 'conflict')) throw err;
      }
    }
    if (free.length > mine.length && mine.length === 0) throw outOfScope(token.name, free[0]!);
    if (tasks.length === 0) return store.claimSessionTask({ workerId, ...b });
    throw new ConflictError(`session ${b.sessionId} has no free task inside this token's scope to claim`, {
      sessionId: b.sessionId,
    });
  }
}

function outOfScope(tokenName: string, t: { id: string; type: string; queue: string }): GafferError {
  return new GafferError(
    'forbidden',
    `task ${t.id} (type ${t.type}, queue ${t.queue}) is outside the queues and types token ${tokenName} is scoped to`,
    { taskId: t.id },
  );
}
