import pg from 'pg';
import { GafferClient } from '../../src/client/client.js';
import { silentLogger } from '../../src/engine/logger.js';
import { openPostgresStore } from '../../src/store/index.js';
import { DirectTransport } from '../../src/worker/direct-transport.js';
import { Worker } from '../../src/worker/worker.js';
import { GafferServer } from '../lib/gaffer-server.js';
import { backendPids, Counter, dbUrl, dropDatabase, packageVersion, recreateDatabase } from '../lib/pg.js';
import { inChunks, payloads } from '../lib/seed.js';
import type { BenchConfig } from '../lib/types.js';
import {
  type DagOps,
  type FlowOps,
  type Handler,
  OTHER_TYPE,
  type Producer,
  type ScaleOps,
  type SystemDriver,
  type WorkerSide,
} from './driver.js';

// BENCH_DB_SUFFIX keeps benches of several checkouts on one PostgreSQL out of each other's database.
const DATABASE = `bench_gaffer${process.env.BENCH_DB_SUFFIX ?? ''}`;
export const TASK_TYPE = 'bench_noop';

/** Gaffer's worker settings in the bench; shared by the direct, HTTP and embedded variants. */
export function gafferWorkerConfig(cfg: BenchConfig) {
  return {
    concurrency: cfg.concurrency,
    prefetch: cfg.gafferPrefetch,
  };
}

export function gafferVersions(): Record<string, string> {
  return { gaffer: packageVersion('..'), pg: packageVersion('pg') };
}

/** Producer over a GafferClient; `count` reads durable completions. */
export function clientProducer(
  client: GafferClient,
  count: () => Promise<number>,
  close: () => Promise<void>,
): Producer {
  return {
    async bulk(payloads) {
      await client.enqueueMany(payloads.map((payload) => ({ type: TASK_TYPE, payload: { ...payload } })));
    },
    async one(payload) {
      await client.enqueue(TASK_TYPE, { ...payload });
    },
    completed: count,
    close,
  };
}

/** How the scale scenarios seed and read this system (bench/scenarios/scale.ts), for the report. */
const SCALE_METHOD = {
  backlog: `SDK enqueueMany of type ${OTHER_TYPE} (default queue), 5,000 a call, two calls at a time`,
  history:
    'enqueueMany of the probed type, then drained by the bench worker (every completion by the real path)',
  overview:
    'store.countTasks({}) then store.queueStats(), one after the other (the SDK reads the dashboard overview is made of)',
};

/**
 * The moments tasks start and stop running, as a row trigger sees them (bench database only). A
 * task's started_at and finished_at are the times its claim's and its completion's transactions
 * began: a claim that waited for a limit's lock took its slot later than its started_at says, after
 * the completion that freed it committed, so those times show overlaps that never happened (the
 * drain_limited peak read 40 from them with the limit at 20). clock_timestamp() inside the statement
 * is after the claim took the lock and before the completion commits: a start is never recorded
 * before the end that freed its slot.
 */
const RUNNING_LOG = `
create table gaffer.bench_running_log (seq bigint not null, key text, at timestamptz not null, d int not null);
create function gaffer.bench_log_running() returns trigger language plpgsql as $$
begin
  if new.status = 'running' and old.status <> 'running' then
    insert into gaffer.bench_running_log values (new.seq, new.concurrency_key, clock_timestamp(), 1);
  elsif old.status = 'running' and new.status <> 'running' then
    insert into gaffer.bench_running_log values (new.seq, new.concurrency_key, clock_timestamp(), -1);
  end if;
  return null;
end $$;
create trigger bench_log_running after update of status on gaffer.tasks
  for each row execute function gaffer.bench_log_running();`;

/**
 * After a drain, from the log above: the most tasks running at one instant (a finish counted before
 * a start at the same instant: the slot it frees is the one the start takes); and the tasks that
 * started while an earlier task of their concurrency key had not finished.
 */
const FLOW_OVERLAP = `
with running as (
  select sum(d) over (order by at, d rows unbounded preceding) as n from gaffer.bench_running_log),
spans as (
  select seq, key, min(at) filter (where d = 1) as started, max(at) filter (where d = -1) as finished
  from gaffer.bench_running_log where key is not null group by seq, key),
keyed as (
  select started, max(finished) over (partition by key order by started
    rows between unbounded preceding and 1 preceding) as earlier_end
  from spans)
select (select max(n) from running)::int as peak,
  (select count(*) from keyed where earlier_end > started)::int as key_overlaps`;

/** Gaffer's TypeScript Worker with DirectTransport straight to PostgreSQL. */
export default function gaffer(cfg: BenchConfig): SystemDriver {
  const url = dbUrl(cfg.pgUrl, DATABASE);
  const workerCfg = gafferWorkerConfig(cfg);
  return {
    name: 'gaffer',
    database: DATABASE,
    config: {
      transport: 'DirectTransport (PostgreSQL)',
      ...workerCfg,
      pool: 'default (10)',
      synchronous_commit: 'on (claims and heartbeats: off for their own transaction)',
      scale: SCALE_METHOD,
    },
    versions: gafferVersions(),
    async reset() {
      await recreateDatabase(cfg.pgUrl, DATABASE);
      const store = await openPostgresStore({ connectionString: url, poolSize: 1 });
      await store.close();
    },
    async producer() {
      const store = await openPostgresStore({ connectionString: url, migrate: false });
      const counter = new Counter(url, "select count(*) as n from gaffer.tasks where status = 'completed'");
      return clientProducer(
        new GafferClient(store),
        () => counter.count(),
        async () => {
          await counter.close();
          await store.close();
        },
      );
    },
    async worker(handler: Handler): Promise<WorkerSide> {
      const store = await openPostgresStore({ connectionString: url, migrate: false });
      const worker = new Worker({
        transport: new DirectTransport(store, { ownsStore: true }),
        ...workerCfg,
        logger: silentLogger,
      });
      worker.handle(TASK_TYPE, (payload) => handler(payload as never));
      return { start: () => worker.start(), stop: async () => void (await worker.stop()) };
    },
    async scale(): Promise<ScaleOps> {
      const store = await openPostgresStore({ connectionString: url, migrate: false });
      const client = new GafferClient(store);
      return {
        seedBacklog: (n) =>
          inChunks(n, 5000, 2, async (from, count) => {
            await client.enqueueMany(payloads(from, count).map((payload) => ({ type: OTHER_TYPE, payload })));
          }),
        async overview() {
          await store.countTasks({});
          await store.queueStats();
        },
        serve: () => GafferServer.start(url),
        close: () => store.close(),
      };
    },
    async flow(): Promise<FlowOps> {
      const store = await openPostgresStore({ connectionString: url, migrate: false });
      const db = new pg.Client({ connectionString: url, application_name: 'gaffer-bench-flow' });
      await db.connect();
      await db.query(RUNNING_LOG);
      return {
        async setLimits(limits) {
          await store.setLimits({ scope: 'queue', name: 'default', ...limits });
        },
        async bulkKeyed(list, keyOf) {
          await store.createTasks({
            tasks: list.map((payload, i) => ({
              type: TASK_TYPE,
              payload: { ...payload },
              concurrencyKey: keyOf(i),
            })),
          });
        },
        async overlap() {
          const res = await db.query<{ peak: number; key_overlaps: number }>(FLOW_OVERLAP);
          return { peak: res.rows[0]!.peak, keyOverlaps: res.rows[0]!.key_overlaps };
        },
        async startTimes() {
          const res = await db.query<{ t: number }>(
            'select (extract(epoch from started_at) * 1000)::float8 as t from gaffer.tasks order by started_at',
          );
          return res.rows.map((r) => r.t);
        },
        async close() {
          await db.end();
          await store.close();
        },
      };
    },
    async dag(): Promise<DagOps> {
      const store = await openPostgresStore({ connectionString: url, migrate: false });
      return {
        async createDiamond(n, width) {
          const step = (i: number, after?: number[]) => ({
            type: TASK_TYPE,
            payload: { i: n * (width + 2) + i },
            after,
          });
          await store.createSession({
            id: `dag-${n}`,
            tasks: [
              step(0),
              ...Array.from({ length: width }, (_, j) => step(j + 1, [0])),
              step(
                width + 1,
                Array.from({ length: width }, (_, j) => j + 1),
              ),
            ],
          });
        },
        close: () => store.close(),
      };
    },
    storePids: () => backendPids(cfg.pgUrl, DATABASE),
    dispose: () => dropDatabase(cfg.pgUrl, DATABASE),
  };
}
