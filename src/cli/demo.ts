import { z } from 'zod';
import { GafferClient } from '../client/client.js';
import { NonRetryableError } from '../core/errors.js';
import type { Logger } from '../engine/logger.js';
import type { Store } from '../store/store.js';
import { DirectTransport } from '../worker/direct-transport.js';
import { Worker } from '../worker/worker.js';

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done);
  });

/** The demo's own task types and queue: it claims, sends and redrives nothing else of the store. */
export const DEMO_TYPES = [
  'demo.email.send',
  'demo.image.resize',
  'demo.report.generate',
  'demo.study.assignment',
];
export const DEMO_QUEUE = 'demo';

/**
 * The sample workload of `npm start`: two workers on two "machines", task types
 * that succeed, fail now and then (and retry), report progress, or fail for good
 * (dead letters), and a producer that keeps sending tasks and sessions.
 */
export async function startDemo(store: Store, logger: Logger): Promise<{ stop(): Promise<void> }> {
  const client = new GafferClient(store);
  // The server already writes one line per store event of this process (a failed attempt, a dead
  // letter, a stale worker); the demo's workers logging the same events would print each twice.
  const workerLogger = logger.child({}, { level: 'error' });
  await client.defineType('demo.email.send', { schema: z.object({ to: z.string() }), maxAttempts: 3 });
  await client.defineType('demo.image.resize', { schema: z.object({ url: z.string(), width: z.number() }) });
  await client.defineType('demo.report.generate', {
    tracking: 'hold',
    maxAttempts: 2,
    backoff: { baseMs: 500 },
  });
  await client.defineType('demo.study.assignment', { schema: z.object({ split: z.number() }) });

  const handlers = (w: Worker) =>
    w
      .handle('demo.email.send', {
        schema: z.object({ to: z.string() }),
        handler: async (p, ctx) => {
          await sleep(50 + Math.random() * 200, ctx.signal);
          if (Math.random() < 0.15) throw new Error(`SMTP timeout sending to ${p.to}`);
          return { delivered: true };
        },
      })
      .handle('demo.image.resize', {
        schema: z.object({ url: z.string(), width: z.number() }),
        handler: async (p, ctx) => {
          for (let i = 1; i <= 5; i++) {
            await sleep(300, ctx.signal);
            await ctx.progress({ done: i, total: 5 });
          }
          return { url: p.url.replace('.png', `-${p.width}.png`) };
        },
      })
      .handle('demo.report.generate', async (p: { broken?: boolean }, ctx) => {
        await sleep(400, ctx.signal);
        if (p.broken) throw new NonRetryableError('report template is missing');
        if (Math.random() < 0.3) throw new Error('warehouse query timed out');
        return { rows: Math.round(Math.random() * 1000) };
      })
      .handle('demo.study.assignment', {
        schema: z.object({ split: z.number() }),
        handler: async (p, ctx) => {
          await ctx.setState({
            study: ctx.task.sessionId,
            assignment: ctx.task.sessionIndex,
            phase: 'simulating',
          });
          for (let i = 1; i <= 4; i++) {
            await sleep(500, ctx.signal);
            await ctx.progress(i / 4);
          }
          return { split: p.split, score: Math.random() };
        },
      });

  const workers = [
    handlers(
      new Worker({
        transport: new DirectTransport(store),
        machineId: 'demo-machine-a',
        name: 'slot-1',
        queues: [DEMO_QUEUE],
        concurrency: 4,
        logger: workerLogger,
      }),
    ),
    handlers(
      new Worker({
        transport: new DirectTransport(store),
        machineId: 'demo-machine-b',
        name: 'slot-1',
        queues: [DEMO_QUEUE],
        concurrency: 4,
        logger: workerLogger,
      }),
    ),
  ];
  for (const w of workers) await w.start();

  const stop = new AbortController();
  let n = 0;
  const produce = async () => {
    while (!stop.signal.aborted) {
      n++;
      try {
        await client.enqueue(
          'demo.email.send',
          { to: `user${n}@example.com` },
          { queue: DEMO_QUEUE, userId: `user${n % 7}` },
        );
        if (n % 3 === 0)
          await client.enqueue(
            'demo.image.resize',
            { url: `https://img.example/${n}.png`, width: 320 },
            { queue: DEMO_QUEUE },
          );
        if (n % 10 === 0) {
          await client.enqueue(
            'demo.report.generate',
            { broken: n % 20 === 0 },
            { queue: DEMO_QUEUE, key: `short_${n % 4}` },
          );
        }
        if (n % 50 === 0) {
          // An operator redriving one of the demo's dead letters now and then (seed 004), so the
          // manual-retry metrics move; the user's own dead letters are never touched.
          const dead = await client.deadLetters({ type: DEMO_TYPES, queue: [DEMO_QUEUE], limit: 20 });
          // Alternate: a poison task (fails again) and one that failed by chance (likely succeeds now).
          const poison = n % 100 === 0;
          const pick = dead.items.find(
            (t) => t.manualRetries === 0 && (t.error?.retryable === false) === poison,
          );
          if (pick)
            await client.retry(pick.id, { by: 'demo-operator', reason: 'redrive after the incident' });
        }
        if (n % 40 === 1) {
          await client.createSession({
            queue: DEMO_QUEUE,
            key: `study-${Math.ceil(n / 40)}`,
            metadata: { kind: 'super study' },
            tasks: Array.from({ length: 6 }, (_, i) => ({
              type: 'demo.study.assignment',
              payload: { split: i },
            })),
          });
        }
      } catch (err) {
        logger.warn({ event: 'demo_error', err: String(err) }, 'demo producer error');
      }
      await sleep(400, stop.signal);
    }
  };
  const producing = produce();
  return {
    async stop() {
      stop.abort();
      await producing;
      await Promise.all(workers.map((w) => w.stop()));
    },
  };
}
