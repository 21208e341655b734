import PgBoss from 'pg-boss';
import { backendPids, Counter, dbUrl, dropDatabase, packageVersion, recreateDatabase } from '../lib/pg.js';
import type { BenchConfig, Payload } from '../lib/types.js';
import type { Handler, SystemDriver, WorkerSide } from './driver.js';

const DATABASE = 'bench_pgboss';
const QUEUE = 'bench_noop';

/**
 * pg-boss 10 at its best setting found in peer-bench.md: 4 work() loops with
 * batchSize 500 and the shortest poll it allows (0.5 s). It polls only (no
 * LISTEN/NOTIFY), so pickup latency is spread across the poll interval.
 */
export default function pgBoss(cfg: BenchConfig): SystemDriver {
  const url = dbUrl(cfg.pgUrl, DATABASE);
  const work = { loops: 4, batchSize: 500, pollingIntervalSeconds: 0.5 };
  const boss = (opts: Record<string, unknown> = {}) => {
    const b = new PgBoss({ connectionString: url, ...opts });
    b.on('error', () => {});
    return b;
  };
  return {
    name: 'pg-boss',
    config: { ...work, queuePolicy: 'standard', producer: 'insert() (bulk), send() (single)' },
    versions: { 'pg-boss': packageVersion('pg-boss') },
    async reset() {
      await recreateDatabase(cfg.pgUrl, DATABASE);
      const b = boss({ supervise: false, schedule: false });
      await b.start();
      await b.createQueue(QUEUE);
      await b.stop({ graceful: false, wait: true });
    },
    async producer() {
      const b = boss({ supervise: false, schedule: false, migrate: false });
      await b.start();
      const done = new Counter(
        url,
        "select count(*) as n from pgboss.job where name = $1 and state = 'completed'",
        [QUEUE],
      );
      return {
        async bulk(payloads: Payload[]) {
          await b.insert(payloads.map((data) => ({ name: QUEUE, data: { ...data } })));
        },
        async one(payload: Payload) {
          await b.send(QUEUE, { ...payload });
        },
        completed: () => done.count(),
        async close() {
          await done.close();
          await b.stop({ graceful: false, wait: true });
        },
      };
    },
    async worker(handler: Handler): Promise<WorkerSide> {
      const b = boss({ migrate: false });
      await b.start();
      return {
        async start() {
          const opts = { batchSize: work.batchSize, pollingIntervalSeconds: work.pollingIntervalSeconds };
          for (let i = 0; i < work.loops; i++) {
            await b.work<Payload>(QUEUE, opts, async (jobs) => {
              for (const job of jobs) handler(job.data);
            });
          }
        },
        async stop() {
          await b.stop({ graceful: false, wait: true });
        },
      };
    },
    storePids: () => backendPids(cfg.pgUrl, DATABASE),
    dispose: () => dropDatabase(cfg.pgUrl, DATABASE),
  };
}
