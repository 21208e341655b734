import { Logger, makeWorkerUtils, run, runMigrations } from 'graphile-worker';
import { backendPids, Counter, dbUrl, dropDatabase, packageVersion, recreateDatabase } from '../lib/pg.js';
import type { BenchConfig, Payload } from '../lib/types.js';
import type { Handler, SystemDriver, WorkerSide } from './driver.js';

const DATABASE = 'bench_graphile';
const TASK = 'bench_noop';
const quiet = new Logger(() => () => {});

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
    config: { ...worker, producer: 'WorkerUtils.addJobs (bulk), WorkerUtils.addJob (single)' },
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
    storePids: () => backendPids(cfg.pgUrl, DATABASE),
    dispose: () => dropDatabase(cfg.pgUrl, DATABASE),
  };
}
