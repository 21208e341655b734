import { Logger, makeWorkerUtils, run, runMigrations } from 'graphile-worker';
import { backendPids, Counter, dbUrl, dropDatabase, packageVersion, recreateDatabase } from '../lib/pg.js';
import { inChunks, payloads } from '../lib/seed.js';
import type { BenchConfig, Payload } from '../lib/types.js';
import { type Handler, OTHER_TYPE, type ScaleOps, type SystemDriver, type WorkerSide } from './driver.js';

const DATABASE = 'bench_graphile';
const TASK = 'bench_noop';
const quiet = new Logger(() => () => {});

/** How the scale scenarios seed and read this system (bench/scenarios/scale.ts), for the report. */
const SCALE_METHOD = {
  backlog: `WorkerUtils.addJobs of task ${OTHER_TYPE}, 5,000 a call, two calls at a time`,
  history:
    'addJobs of the probed task, then drained by the bench worker; graphile-worker deletes completed jobs, so the table keeps none (only dead tuples until vacuum)',
  overview: 'none: graphile-worker has no count API',
};

/**
 * graphile-worker at its documented best for throughput (peer-bench.md): the
 * local queue (one query locks a batch) and batched completion with no delay.
 */
export default function graphile(cfg: BenchConfig): SystemDriver {
  const url = dbUrl(cfg.pgUrl, DATABASE);
  const worker = {
    concurrency: cfg.concurrency,
    localQueue: { size: 1000 },
    completeJobBatchDelay: 0,
    maxPoolSize: 10,
  };
  return {
    name: 'graphile-worker',
    database: DATABASE,
    config: {
      ...worker,
      producer: 'WorkerUtils.addJobs (bulk), WorkerUtils.addJob (single)',
      scale: SCALE_METHOD,
    },
    versions: { 'graphile-worker': packageVersion('graphile-worker') },
    async reset() {
      await recreateDatabase(cfg.pgUrl, DATABASE);
      await runMigrations({ connectionString: url, logger: quiet });
    },
    async producer() {
      const utils = await makeWorkerUtils({ connectionString: url, logger: quiet });
      // Completed jobs are deleted; what is left in the table has not completed yet.
      const remaining = new Counter(url, 'select count(*) as n from graphile_worker._private_jobs');
      let created = 0;
      return {
        async bulk(payloads: Payload[]) {
          await utils.addJobs(payloads.map((payload) => ({ identifier: TASK, payload: { ...payload } })));
          created += payloads.length;
        },
        async one(payload: Payload) {
          await utils.addJob(TASK, { ...payload });
          created++;
        },
        completed: async () => created - (await remaining.count()),
        async close() {
          await remaining.close();
          await utils.release();
        },
      };
    },
    async worker(handler: Handler): Promise<WorkerSide> {
      let runner: Awaited<ReturnType<typeof run>> | null = null;
      return {
        async start() {
          runner = await run({
            connectionString: url,
            concurrency: worker.concurrency,
            maxPoolSize: worker.maxPoolSize,
            noHandleSignals: true,
            logger: quiet,
            taskList: { [TASK]: async (payload) => handler(payload as Payload) },
            preset: {
              worker: { localQueue: worker.localQueue, completeJobBatchDelay: worker.completeJobBatchDelay },
            },
          });
        },
        async stop() {
          await runner?.stop();
        },
      };
    },
    async scale(): Promise<ScaleOps> {
      const utils = await makeWorkerUtils({ connectionString: url, logger: quiet });
      return {
        seedBacklog: (n) =>
          inChunks(n, 5000, 2, async (from, count) => {
            await utils.addJobs(
              payloads(from, count).map((payload) => ({ identifier: OTHER_TYPE, payload })),
            );
          }),
        async close() {
          await utils.release();
        },
      };
    },
    storePids: () => backendPids(cfg.pgUrl, DATABASE),
    dispose: () => dropDatabase(cfg.pgUrl, DATABASE),
  };
}
