import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import { validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { GafferError } from '../core/errors.js';
import { type AlertOptions, AlertService } from '../engine/alerts.js';
import { logStoreEvents } from '../engine/event-log.js';
import { createLogger, type Logger } from '../engine/logger.js';
import { type MaintenanceOptions, MaintenanceService } from '../engine/maintenance.js';
import { GafferMetrics, type MetricsOptions } from '../engine/metrics.js';
import { type SchedulerOptions, SchedulerService } from '../engine/scheduler.js';
import { openStore } from '../store/index.js';
import type { Store, StoreOptions } from '../store/store.js';
import { AuthGate } from './auth.js';
import type { ServerContext, ZodApp } from './context.js';
import { registerDashboard } from './dashboard.js';
import { DEFAULT_DATA_DIR, DEFAULT_HOST, DEFAULT_PORT } from './defaults.js';
import { registerDocs } from './docs.js';
import { installJsonBodyParser } from './json-body.js';
import { isLoopback } from './loopback.js';
import { PayloadValidator } from './payloads.js';
import { installProblemHandlers, problem, sendProblem } from './problems.js';
import { registerAlertRoutes } from './routes/alerts.js';
import { registerDeadLetterRoutes } from './routes/dead-letters.js';
import { registerEntryRoutes } from './routes/entries.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerLimitRoutes } from './routes/limits.js';
import { registerLiveRoutes } from './routes/live.js';
import { registerMetricsRoutes } from './routes/metrics.js';
import { registerScheduleRoutes } from './routes/schedules.js';
import { registerSessionRoutes } from './routes/sessions.js';
import { registerStatsRoutes } from './routes/stats.js';
import { registerTaskTypeRoutes } from './routes/task-types.js';
import { registerTaskRoutes } from './routes/tasks.js';
import { registerTokenRoutes } from './routes/tokens.js';
import { registerWorkerProtocolRoutes } from './routes/worker-protocol.js';
import { registerWorkerRoutes } from './routes/workers.js';
import { registerWorkflowRoutes } from './routes/workflows.js';
import { WorkerHub } from './worker-hub.js';

export interface ServerOptions {
  /** An open store; the server does not close it. */
  store?: Store;
  /** PostgreSQL URL (when no store is given); else the embedded store in dataDir. */
  databaseUrl?: string;
  /** Embedded store directory (default ./.gaffer). */
  dataDir?: string;
  /** Lease, stale and retry settings of a store the server opens. */
  storeOptions?: Partial<StoreOptions>;
  /** Used by startServer (default 127.0.0.1). */
  host?: string;
  /** Used by startServer (default 7700; 0 picks a free port). */
  port?: number;
  logger?: Logger;
  /** Lease rescue, stale sweep (every second) and retention; false turns it off (tests drive it by hand). */
  maintenance?: Partial<MaintenanceOptions> | false;
  /** Fires due schedules (every server runs one; ticks are idempotent); false turns it off. */
  scheduler?: Partial<SchedulerOptions> | false;
  /** Alert rules, webhook (GAFFER_ALERT_WEBHOOK_URL) and interval; evaluated by maintenance on the leader. */
  alerts?: AlertOptions;
  /** /metrics settings (snapshot cache, process metrics). */
  metrics?: MetricsOptions;
  /** true: always require a token; false: never; omitted: as soon as any token exists. */
  auth?: boolean;
  /** Largest request body in bytes (default 1 MiB). */
  bodyLimit?: number;
  /** Requests per minute per token (default 6000). */
  rateLimit?: number;
  /** Host names served while auth is off, besides loopback names and `host` (a guard against DNS rebinding). */
  allowedHosts?: string[];
  /** Requests with unknown or revoked tokens per client address per minute before 429, checked before any lookup (default 30). */
  authFailureLimit?: number;
  /** Slow poll of a waiting claim, for delayed tasks and backoffs (default 1000 ms). */
  claimPollIntervalMs?: number;
  /** Where the built dashboard is (default web/dist of the package). */
  dashboardDir?: string;
}

export interface GafferServer {
  app: FastifyInstance;
  store: Store;
  maintenance: MaintenanceService | null;
  scheduler: SchedulerService | null;
  metrics: GafferMetrics;
  alerts: AlertService;
  close(): Promise<void>;
}

export { DEFAULT_DATA_DIR, DEFAULT_HOST, DEFAULT_PORT };
export const DEFAULT_BODY_LIMIT = 1024 * 1024;
export const DEFAULT_RATE_LIMIT = 6000;

/**
 * At close, destroys connections with no request in flight, and each one as its
 * last answer goes out. Node's closeIdleConnections misses a connection that never
 * sent a request (fetch leaves one behind when it aborts just after connecting),
 * and close would wait for the client's keep-alive timeout on it.
 */
function dropQuietConnectionsOnClose(app: FastifyInstance): void {
  const active = new Map<Socket, number>();
  let closing = false;
  app.server.on('connection', (socket: Socket) => {
    active.set(socket, 0);
    socket.once('close', () => active.delete(socket));
  });
  app.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    active.set(socket, (active.get(socket) ?? 0) + 1);
    res.once('close', () => {
      const left = (active.get(socket) ?? 1) - 1;
      active.set(socket, left);
      if (closing && left === 0) socket.destroy();
    });
  });
  app.addHook('preClose', async () => {
    closing = true;
    for (const [socket, n] of active) if (n === 0) socket.destroy();
  });
}

/** Builds the Fastify app over a store (opening one if none is given); startServer listens. */
export async function buildServer(opts: ServerOptions = {}): Promise<GafferServer> {
  const log = opts.logger ?? createLogger({ name: 'gaffer-server' });
  const ownsStore = !opts.store;
  const store =
    opts.store ??
    (await openStore({
      ...opts.storeOptions,
      databaseUrl: opts.databaseUrl,
      dataDir: opts.dataDir ?? DEFAULT_DATA_DIR,
    }));
  try {
    return await assemble(store, ownsStore, log, opts);
  } catch (err) {
    if (ownsStore) await store.close().catch(() => {});
    throw err;
  }
}

async function assemble(
  store: Store,
  ownsStore: boolean,
  log: Logger,
  opts: ServerOptions,
): Promise<GafferServer> {
  const app = Fastify({
    loggerInstance: log,
    // Gaffer logs named events itself; a line per request would drown them at worker-protocol rates.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: opts.bodyLimit ?? DEFAULT_BODY_LIMIT,
    routerOptions: { maxParamLength: 1000 },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // Errors Fastify raises before routing (a malformed percent-encoding in the URL) get the API's
    // one error shape too, not Fastify's own JSON.
    frameworkErrors: (err, _req, reply) => {
      sendProblem(
        reply,
        problem(400, 'validation', `the URL is malformed (${err.code}): fix its percent-encoding`),
      );
    },
  }) as unknown as FastifyInstance;
  // Fastify hands a missing body to the validator as null; a POST with no body (curl -X POST)
  // is the same as one with none of the optional fields, so null reads as "absent" there.
  app.setValidatorCompiler((route) => {
    const validate = validatorCompiler(route as Parameters<typeof validatorCompiler>[0]);
    return route.httpPart === 'body'
      ? (data: unknown) => validate(data === null ? undefined : data)
      : validate;
  });
  // Response schemas document the API; answers are plain JSON.stringify (fast, and Dates become ISO strings).
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  // The API speaks JSON only: a text/plain body gets 415 with a clear message, not a confusing 400.
  app.removeContentTypeParser('text/plain');
  installJsonBodyParser(app);

  const ctx: ServerContext = {
    store,
    hub: new WorkerHub(store, opts.claimPollIntervalMs),
    payloads: new PayloadValidator(store),
    auth: new AuthGate(store, {
      forced: opts.auth,
      beyondLoopback: !isLoopback(opts.host ?? DEFAULT_HOST),
      failureLimit: opts.authFailureLimit,
      host: opts.host ?? DEFAULT_HOST,
      allowedHosts: opts.allowedHosts,
    }),
    log,
  };

  // Security headers on every answer (issue 17, item 12): scripts only from this server (the
  // dashboard and the docs page have no inline script), no framing, no sniffing, no referrer.
  // Styles may be inline (the charts and swagger-ui set them). Plain HTTP: no HSTS, no upgrade.
  await app.register(helmet, {
    global: true,
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        scriptSrcAttr: ["'none'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        fontSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    strictTransportSecurity: false,
  });
  // Tokens exist at start: auth is on from the first request, whatever happens to them before it.
  await ctx.auth.arm();
  app.decorateRequest('auth', null);
  app.addHook('onRequest', (req, reply) => ctx.auth.authenticate(req, reply));
  await app.register(rateLimit, {
    global: true,
    max: opts.rateLimit ?? DEFAULT_RATE_LIMIT,
    timeWindow: 60_000,
    hook: 'preHandler',
    // Per token; callers without one (auth off: loopback only) are not limited.
    allowList: (req) => !req.auth,
    keyGenerator: (req) => req.auth?.id ?? req.ip,
    errorResponseBuilder: (_req, c) =>
      new GafferError(
        'rate_limited',
        `over ${c.max} requests per minute for this token; retry in ${c.after}`,
      ),
  });

  // The problem handlers first: the docs plugin's routes inherit them (a 401 there is a problem document).
  const dashboard = await registerDashboard(app, { dir: opts.dashboardDir });
  installProblemHandlers(app, log, dashboard.fallback);
  await registerDocs(app);

  const api = app.withTypeProvider<ZodTypeProvider>() as unknown as ZodApp;
  api.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  registerHealthRoutes(api, ctx);
  // Observability (R7): counters from this node's store events, one log line per event.
  const metrics = new GafferMetrics(store, { logger: log, ...opts.metrics }).attach();
  // Routes already log these two with the caller's identity; the store's line would repeat them.
  const unlogEvents = logStoreEvents(store, log, {
    task_retried_by_hand: 'debug',
    worker_registered: 'debug',
  });
  const alerts = new AlertService(store, { logger: log, ...opts.alerts });
  registerMetricsRoutes(api, metrics);
  await app.register(
    async (scope) => {
      const v1 = scope.withTypeProvider<ZodTypeProvider>() as unknown as ZodApp;
      registerTaskRoutes(v1, ctx);
      registerWorkflowRoutes(v1, ctx);
      registerDeadLetterRoutes(v1, ctx);
      registerTaskTypeRoutes(v1, ctx);
      registerSessionRoutes(v1, ctx);
      registerScheduleRoutes(v1, ctx);
      registerEntryRoutes(v1, ctx);
      registerWorkerRoutes(v1, ctx);
      registerStatsRoutes(v1, ctx);
      registerAlertRoutes(v1, ctx);
      registerLimitRoutes(v1, ctx);
      registerLiveRoutes(v1, ctx);
      registerTokenRoutes(v1, ctx);
      registerWorkerProtocolRoutes(v1, ctx);
    },
    { prefix: '/api/v1' },
  );

  // Waiting long-polls answer at once (with no tasks) so closing does not wait up to 20 s on them.
  app.addHook('preClose', async () => ctx.hub.wakeAllForClose());
  dropQuietConnectionsOnClose(app);
  await app.ready();

  const maintenance =
    opts.maintenance === false
      ? null
      : new MaintenanceService(store, { logger: log, alerts, ...(opts.maintenance ?? {}) });
  maintenance?.start();
  const scheduler =
    opts.scheduler === false ? null : new SchedulerService(store, { logger: log, ...(opts.scheduler ?? {}) });
  scheduler?.start();

  let closing: Promise<void> | null = null;
  return {
    app,
    store,
    maintenance,
    scheduler,
    metrics,
    alerts,
    close() {
      closing ??= (async () => {
        await maintenance?.stop();
        await scheduler?.stop();
        metrics.close();
        unlogEvents();
        await alerts.idle();
        await app.close();
        await ctx.hub.close();
        if (ownsStore) await store.close();
      })();
      return closing;
    },
  };
}
