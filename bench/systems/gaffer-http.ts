import { GafferClient } from '../../src/client/client.js';
import { HttpBackend } from '../../src/client/http-backend.js';
import { silentLogger } from '../../src/engine/logger.js';
import { HttpTransport } from '../../src/worker/http-transport.js';
import { Worker } from '../../src/worker/worker.js';
import { GafferServer } from '../lib/gaffer-server.js';
import { backendPids, Counter, dbUrl, dropDatabase, recreateDatabase } from '../lib/pg.js';
import type { BenchConfig } from '../lib/types.js';
import type { Handler, SystemDriver, WorkerSide } from './driver.js';
import { clientProducer, gafferVersions, gafferWorkerConfig, TASK_TYPE } from './gaffer.js';

const DATABASE = 'bench_gaffer_http';
/** How the worker child learns the URL of the server the parent started. */
const URL_ENV = 'BENCH_GAFFER_HTTP_URL';

/** Each worker of an idle fleet: one slot, nothing prefetched, so each holds one waiting long-poll claim. */
export const FLEET_WORKER = { concurrency: 1, prefetch: 0 };

/**
 * The TypeScript Worker over the HTTP worker protocol through `gaffer serve` on
 * PostgreSQL (a process of its own, started fresh for every run); the producer
 * uses the HTTP client as well.
 */
export default function gafferHttp(cfg: BenchConfig): SystemDriver {
  const db = dbUrl(cfg.pgUrl, DATABASE);
  const workerCfg = gafferWorkerConfig(cfg);
  let server: GafferServer | null = null;
  let url = process.env[URL_ENV] ?? '';
  const httpWorker = (handler: Handler, opts: { concurrency: number; prefetch: number }) => {
    const worker = new Worker({ transport: new HttpTransport({ url }), ...opts, logger: silentLogger });
    worker.handle(TASK_TYPE, (payload) => handler(payload as never));
    return worker;
  };
  return {
    name: 'gaffer-http',
    database: DATABASE,
    config: {
      transport: 'HttpTransport → gaffer serve (PostgreSQL)',
      ...workerCfg,
      server: 'node bin/gaffer.js serve --no-auth (default pool, logs at info to /dev/null)',
      idleFleet: { ...FLEET_WORKER, workers: cfg.fleetSize, smallFleet: 10, process: 'one child process' },
    },
    versions: gafferVersions(),
    async reset() {
      await server?.stop();
      server = null;
      await recreateDatabase(cfg.pgUrl, DATABASE);
      server = await GafferServer.start(db);
      url = server.url;
    },
    async producer() {
      const counter = new Counter(db, "select count(*) as n from gaffer.tasks where status = 'completed'");
      return clientProducer(
        new GafferClient(new HttpBackend({ url })),
        () => counter.count(),
        () => counter.close(),
      );
    },
    async worker(handler: Handler): Promise<WorkerSide> {
      const worker = httpWorker(handler, workerCfg);
      return { start: () => worker.start(), stop: async () => void (await worker.stop()) };
    },
    async fleet(n: number, handler: Handler): Promise<WorkerSide> {
      const workers = Array.from({ length: n }, () => httpWorker(handler, FLEET_WORKER));
      return {
        async start() {
          // Registered a few at a time, as a fleet comes up; then each holds one long-poll claim.
          for (let i = 0; i < workers.length; i += 25)
            await Promise.all(workers.slice(i, i + 25).map((w) => w.start()));
        },
        stop: async () => void (await Promise.all(workers.map((w) => w.stop()))),
      };
    },
    childEnv: () => ({ [URL_ENV]: url }),
    storePids: async () => [
      ...(server?.pid ? [server.pid] : []),
      ...(await backendPids(cfg.pgUrl, DATABASE)),
    ],
    serverPid: () => server?.pid,
    async dispose() {
      await server?.stop();
      server = null;
      await dropDatabase(cfg.pgUrl, DATABASE);
    },
  };
}
