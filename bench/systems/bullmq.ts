import { execFileSync } from 'node:child_process';
import { Queue, Worker } from 'bullmq';
import { Redis as IORedis } from 'ioredis';
import { packageVersion } from '../lib/pg.js';
import { inChunks, payloads } from '../lib/seed.js';
import type { BenchConfig, Payload } from '../lib/types.js';
import { type Handler, OTHER_TYPE, type ScaleOps, type SystemDriver, type WorkerSide } from './driver.js';

const QUEUE = 'bench_noop';
const PREFIX = 'gaffer-bench';

/** How the scale scenarios seed and read this system (bench/scenarios/scale.ts), for the report. */
const SCALE_METHOD = {
  backlog: `Queue.addBulk on queue ${OTHER_TYPE}, 1,000 a call, two calls at a time`,
  history: `completed jobs written directly, pipelined: the job hash (name, data, opts, timestamp, processedOn, finishedOn, returnvalue, atm) and ZADD ${PREFIX}:${QUEUE}:completed, ids h<n>`,
  overview: `Queue.getJobCounts() on ${QUEUE} and on ${OTHER_TYPE}`,
};

/** BullMQ on the local Redis at high concurrency (its best setting in peer-bench.md); completed jobs are kept. */
export default function bullmq(cfg: BenchConfig): SystemDriver {
  const connection = () => new IORedis(cfg.redisUrl, { maxRetriesPerRequest: null });
  const settings = { concurrency: cfg.concurrency, removeOnComplete: false, prefix: PREFIX };
  const redisInfo: Record<string, string> = {};
  return {
    name: 'bullmq',
    config: {
      ...settings,
      producer: 'Queue.addBulk (bulk), Queue.add (single)',
      redis: redisInfo,
      scale: SCALE_METHOD,
    },
    versions: { bullmq: packageVersion('bullmq'), ioredis: packageVersion('ioredis') },
    async reset() {
      const conn = connection();
      const q = new Queue(QUEUE, { connection: conn, prefix: PREFIX });
      await q.obliterate({ force: true });
      await obliterate(conn, OTHER_TYPE);
      const info = await conn.info('server');
      redisInfo.version = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
      const persistence = await conn.config('GET', 'appendonly');
      redisInfo.appendonly = String((persistence as string[])[1] ?? 'unknown');
      const save = await conn.config('GET', 'save');
      redisInfo.save = String((save as string[])[1] ?? '');
      await q.close();
      conn.disconnect();
    },
    async producer() {
      const conn = connection();
      const q = new Queue<Payload>(QUEUE, { connection: conn, prefix: PREFIX });
      return {
        async bulk(payloads: Payload[]) {
          await q.addBulk(payloads.map((data) => ({ name: 'noop', data: { ...data } })));
        },
        async one(payload: Payload) {
          await q.add('noop', { ...payload });
        },
        completed: async () => (await q.getJobCounts('completed')).completed ?? 0,
        async close() {
          await q.close();
          conn.disconnect();
        },
      };
    },
    async worker(handler: Handler): Promise<WorkerSide> {
      const w = new Worker<Payload>(QUEUE, async (job) => handler(job.data), {
        connection: connection(),
        prefix: PREFIX,
        concurrency: settings.concurrency,
        autorun: false,
      });
      w.on('error', () => {});
      await w.waitUntilReady();
      return {
        async start() {
          void w.run();
        },
        async stop() {
          await w.close(true);
        },
      };
    },
    async scale(): Promise<ScaleOps> {
      const conn = connection();
      const probed = new Queue(QUEUE, { connection: conn, prefix: PREFIX });
      const other = new Queue(OTHER_TYPE, { connection: conn, prefix: PREFIX });
      return {
        seedBacklog: (n) =>
          inChunks(n, 1000, 2, async (from, count) => {
            await other.addBulk(payloads(from, count).map((data) => ({ name: 'noop', data })));
          }),
        async seedHistory(n) {
          const base = `${PREFIX}:${QUEUE}`;
          await inChunks(n, 5000, 2, async (from, count) => {
            const at = Date.now();
            const pipe = conn.pipeline();
            for (let i = from; i < from + count; i++) {
              pipe.hset(`${base}:h${i}`, {
                name: 'noop',
                data: JSON.stringify({ i }),
                opts: '{"attempts":0}',
                timestamp: at,
                delay: 0,
                priority: 0,
                processedOn: at,
                finishedOn: at,
                returnvalue: 'null',
                atm: 1,
              });
              pipe.zadd(`${base}:completed`, at, `h${i}`);
            }
            await pipe.exec();
          });
        },
        async overview() {
          await probed.getJobCounts();
          await other.getJobCounts();
        },
        async close() {
          await probed.close();
          await other.close();
          conn.disconnect();
        },
      };
    },
    async storePids() {
      try {
        return execFileSync('pgrep', ['-x', 'redis-server'], { encoding: 'utf8' })
          .split('\n')
          .filter(Boolean)
          .map(Number);
      } catch {
        return [];
      }
    },
    async dispose() {
      const conn = connection();
      const q = new Queue(QUEUE, { connection: conn, prefix: PREFIX });
      await q.obliterate({ force: true }).catch(() => {});
      await obliterate(conn, OTHER_TYPE).catch(() => {});
      await q.close();
      conn.disconnect();
    },
  };
}

async function obliterate(conn: IORedis, name: string): Promise<void> {
  const q = new Queue(name, { connection: conn, prefix: PREFIX });
  await q.obliterate({ force: true });
  await q.close();
}
