import pg from 'pg';
import PgBoss from 'pg-boss';
import { backendPids, Counter, dbUrl, dropDatabase, packageVersion, recreateDatabase } from '../lib/pg.js';
import { inChunks, payloads } from '../lib/seed.js';
import type { BenchConfig, Payload } from '../lib/types.js';
import { type Handler, OTHER_TYPE, type ScaleOps, type SystemDriver, type WorkerSide } from './driver.js';

const DATABASE = 'bench_pgboss';
const QUEUE = 'bench_noop';

/** How the scale scenarios seed and read this system (bench/scenarios/scale.ts), for the report. */
const SCALE_METHOD = {
  backlog: `insert() into queue ${OTHER_TYPE} (a queue of its own: pg-boss 10 gives each queue a partition), 5,000 a call, two calls at a time`,
  history: `completed rows written directly: INSERT INTO pgboss.job (name, data, state, started_on, completed_on) SELECT '${QUEUE}', …, 'completed', now(), now() FROM generate_series, 100,000 a statement`,
  overview: `getQueueSize('${QUEUE}') then getQueueSize('${OTHER_TYPE}') (its public counts; no count by state)`,
};

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
    database: DATABASE,
    config: {
      ...work,
      queuePolicy: 'standard',
      producer: 'insert() (bulk), send() (single)',
      scale: SCALE_METHOD,
    },
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
    async scale(): Promise<ScaleOps> {
      const b = boss({ supervise: false, schedule: false, migrate: false });
      await b.start();
      await b.createQueue(OTHER_TYPE);
      return {
        seedBacklog: (n) =>
          inChunks(n, 5000, 2, async (from, count) => {
            await b.insert(payloads(from, count).map((data) => ({ name: OTHER_TYPE, data })));
          }),
        async seedHistory(n) {
          const c = new pg.Client({ connectionString: url, application_name: 'gaffer-bench-seed' });
          await c.connect();
          try {
            await inChunks(n, 100_000, 1, async (from, count) => {
              await c.query(
                `insert into pgboss.job (name, data, state, started_on, completed_on)
                 select $1, jsonb_build_object('i', g), 'completed', now(), now()
                 from generate_series($2::int, $3::int) g`,
                [QUEUE, from, from + count - 1],
              );
            });
          } finally {
            await c.end();
          }
        },
        async overview() {
          await b.getQueueSize(QUEUE);
          await b.getQueueSize(OTHER_TYPE);
        },
        close: () => b.stop({ graceful: false, wait: true }),
      };
    },
    storePids: () => backendPids(cfg.pgUrl, DATABASE),
    dispose: () => dropDatabase(cfg.pgUrl, DATABASE),
  };
}
