import { execFileSync } from 'node:child_process';
import { Queue, Worker } from 'bullmq';
import { Redis as IORedis } from 'ioredis';
import { packageVersion } from '../lib/pg.js';
import type { BenchConfig, Payload } from '../lib/types.js';
import type { Handler, SystemDriver, WorkerSide } from './driver.js';

const QUEUE = 'bench_noop';
const PREFIX = 'gaffer-bench';

/** BullMQ on the local Redis at high concurrency (its best setting in peer-bench.md); completed jobs are kept. */
export default function bullmq(cfg: BenchConfig): SystemDriver {
  const connection = () => new IORedis(cfg.redisUrl, { maxRetriesPerRequest: null });
  const settings = { concurrency: cfg.concurrency, removeOnComplete: false, prefix: PREFIX };
  const redisInfo: Record<string, string> = {};
  return {
    name: 'bullmq',
    config: { ...settings, producer: 'Queue.addBulk (bulk), Queue.add (single)', redis: redisInfo },
    versions: { bullmq: packageVersion('bullmq'), ioredis: packageVersion('ioredis') },
    async reset() {
      const conn = connection();
      const q = new Queue(QUEUE, { connection: conn, prefix: PREFIX });
      await q.obliterate({ force: true });
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
      await q.close();
      conn.disconnect();
    },
  };
}
