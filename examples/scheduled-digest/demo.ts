import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GafferClient, type Schedule, type Task } from '@gafferhq/gaffer';
import { HttpBackend } from '@gafferhq/gaffer/client';
import { startServer } from '@gafferhq/gaffer/server';
import { HttpTransport, Worker } from '@gafferhq/gaffer/worker';
import pino from 'pino';

/** The regions a digest is built from: one child task each, summed by the parent (fan-in). */
export const REGIONS = ['emea', 'americas', 'apac'] as const;

/** What a region's part counts (a stand-in for a query over that region's orders). */
export function ordersIn(region: string, tick: string): number {
  return region.length * 10 + ((Date.parse(tick) / 1000) % 7);
}

export interface DemoReport {
  url: string;
  created: Schedule;
  paused: Schedule;
  schedule: Schedule;
  digests: Task[];
  parts: Task[];
}

async function until<T>(
  fn: () => Promise<T | null | undefined | false>,
  what: string,
  ms = 30_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function all(client: GafferClient, type: string): Promise<Task[]> {
  return (await client.list({ type, limit: 1000 })).items;
}

/**
 * A digest every 500 ms (a nightly cron in real life): the server's scheduler creates one
 * `digest.build` task per tick, whose handler spawns a part per region and waits for them without
 * holding a worker slot, then runs again with their results and sums them.
 */
export async function runDemo(opts: { ticks?: number } = {}): Promise<DemoReport> {
  const ticks = opts.ticks ?? 4;
  const dataDir = mkdtempSync(join(tmpdir(), 'gaffer-digest-'));
  const logger = pino({ level: process.env.GAFFER_LOG_LEVEL ?? 'silent' });
  const server = await startServer({ dataDir, port: 0, logger, scheduler: { pollIntervalMs: 100 } });
  const client = new GafferClient(new HttpBackend({ url: server.url }));
  const worker = new Worker({ transport: new HttpTransport({ url: server.url }), concurrency: 6, logger });
  worker.handle('digest.part', {
    handler: async (p: { region: string; tick: string }) => ({
      region: p.region,
      orders: ordersIn(p.region, p.tick),
    }),
  });
  worker.handle('digest.build', {
    handler: async (_payload, ctx) => {
      const tick = String(ctx.task.metadata.scheduledFor);
      if (!ctx.childResults) {
        return ctx.spawnAndWait(
          REGIONS.map((region) => ({ type: 'digest.part', payload: { region, tick } })),
        );
      }
      const orders = ctx.childResults.reduce((n, c) => n + ((c.result as { orders: number }).orders ?? 0), 0);
      return { tick, parts: ctx.childResults.length, orders };
    },
  });
  await worker.start();
  try {
    const { schedule: created } = await client.schedules.upsert('orders-digest', {
      everyMs: 500,
      type: 'digest.build',
      payload: { source: 'orders' },
      task: { queue: 'digests', maxAttempts: 3 },
      catchUp: 'run',
      catchUpLimit: 20,
    });
    await until(
      async () => (await all(client, 'digest.build')).filter((t) => t.status === 'completed').length >= ticks,
      `${ticks} digests`,
    );
    const paused = await client.schedules.pause('orders-digest');
    // What was already created finishes; the pause creates nothing more.
    const digests = await until(async () => {
      const ds = await all(client, 'digest.build');
      return ds.every((t) => t.status === 'completed') ? ds : null;
    }, 'the last digests');
    const parts = await all(client, 'digest.part');
    const schedule = await client.schedules.get('orders-digest');
    return { url: server.url, created, paused, schedule, digests, parts };
  } finally {
    await worker.stop();
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
