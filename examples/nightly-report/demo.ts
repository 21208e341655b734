import { GafferClient, type Task } from '@gafferhq/gaffer';
import { HttpBackend } from '@gafferhq/gaffer/client';
import { startServer } from '@gafferhq/gaffer/server';
import { openStore } from '@gafferhq/gaffer/store';
import { HttpTransport, Worker } from '@gafferhq/gaffer/worker';
import pino from 'pino';

/**
 * A nightly report over many parts: a schedule creates one `report.nightly` task per tick; its handler
 * fans out one `report.part` child per region and waits for them without holding a worker slot, then runs
 * again and sums what the parts found. A broken part does not sink the report: its error is in
 * ctx.childResults, and the report says which part is missing. Then an approval: the report waits for a
 * signal (a person in the loop) before it is "sent".
 */
export const REGIONS = [
  'eu-west',
  'eu-north',
  'us-east',
  'us-west',
  'ap-south',
  'ap-east',
  'sa-east',
  'af-south',
];
/** The region whose part fails every time (a warehouse that is down). */
export const BROKEN = 'sa-east';

export interface PartResult {
  region: string;
  orders: number;
  revenue: number;
}

export interface ReportResult {
  night: string;
  parts: number;
  missing: string[];
  orders: number;
  revenue: number;
  approvedBy: string | null;
}

export interface DemoReport {
  url: string;
  /** The tasks the schedule created (one per tick it fired during the demo). */
  ticks: Task[];
  report: Task;
  children: Task[];
  approval: Task;
  /** The most reports any worker ran at once while their parts ran: the parent held no slot. */
  slots: number;
}

/** Deterministic figures for a region and night, so the test can check the sum. */
export function partFigures(region: string, night: string): PartResult {
  let h = 0;
  for (const c of `${region}:${night}`) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return { region, orders: 100 + (h % 900), revenue: 1000 + (h % 9000) };
}

export async function runDemo(opts: { log?: (line: string) => void } = {}): Promise<DemoReport> {
  const log = opts.log ?? (() => {});
  const store = await openStore({});
  const server = await startServer({
    store,
    port: 0,
    logger: pino({ level: 'silent' }),
    scheduler: { pollIntervalMs: 200 },
  });
  const client = new GafferClient(new HttpBackend({ url: server.url }));
  let running = 0;
  let slots = 0;
  const worker = new Worker({
    transport: new HttpTransport({ url: server.url }),
    concurrency: 2,
    logger: pino({ level: 'silent' }),
  })
    .handle('report.nightly', {
      handler: async (payload, ctx) => {
        const night =
          (payload as { night?: string } | null)?.night ?? ctx.task.createdAt.toISOString().slice(0, 10);
        if (ctx.childResults) {
          const ok = ctx.childResults
            .filter((c) => c.status === 'completed')
            .map((c) => c.result as unknown as PartResult);
          const missing = ctx.childResults
            .filter((c) => c.status !== 'completed')
            .map((c) => c.id.split(':').at(-1)!);
          log(`report ${night}: ${ok.length} parts in, missing ${missing.join(', ') || 'none'}`);
          return {
            night,
            parts: ok.length,
            missing,
            orders: ok.reduce((a, p) => a + p.orders, 0),
            revenue: ok.reduce((a, p) => a + p.revenue, 0),
            approvedBy: null,
          } satisfies ReportResult;
        }
        running++;
        slots = Math.max(slots, running);
        try {
          log(`report ${night}: fanning out ${REGIONS.length} parts`);
          return await ctx.spawnAndWait(
            REGIONS.map((region) => ({
              type: 'report.part',
              // The id makes a re-run of this attempt the same children, not new ones.
              id: `${ctx.task.id}:part:${region}`,
              payload: { region, night },
              maxAttempts: 2,
              backoff: { baseMs: 10, maxMs: 10 },
            })),
          );
        } finally {
          running--;
        }
      },
    })
    .handle('report.part', {
      handler: async (payload) => {
        const { region, night } = payload as { region: string; night: string };
        if (region === BROKEN) throw new Error(`warehouse ${region} is not answering`);
        return partFigures(region, night) as unknown as Record<string, number>;
      },
    })
    .handle('report.send', {
      handler: async (payload, ctx) => {
        const approval = ctx.signalData as { approvedBy: string } | undefined;
        if (!approval) throw new Error('no approval');
        return { ...(payload as object), approvedBy: approval.approvedBy, sent: true };
      },
    });
  await worker.start();

  // One report per tick; the demo runs every 2 s and keeps the first tick's report.
  await client.schedules.upsert('nightly-report', { everyMs: 2000, type: 'report.nightly', payload: null });
  let first: Task | undefined;
  for (let i = 0; i < 100 && !first; i++) {
    first = (await client.list({ type: 'report.nightly', limit: 1, order: 'asc' })).items[0];
    if (!first) await new Promise((r) => setTimeout(r, 100));
  }
  if (!first) throw new Error('the schedule created no report');
  const report = await client.waitFor(first.id, { timeoutMs: 30_000 });
  await client.schedules.pause('nightly-report');
  const graph = await client.graph(report.id);
  const children = await Promise.all(graph.children.map((c) => client.get(c.id)));

  // The report waits for a person before it is sent: a signal with who approved it.
  const approval = await client.enqueue('report.send', report.result, {
    waitFor: { signal: true, timeoutMs: 3_600_000 },
  });
  log(`report ${approval.id} waits for approval (${approval.status})`);
  await client.signal(approval.id, { approvedBy: 'ada@example.com' });
  const sent = await client.waitFor(approval.id, { timeoutMs: 15_000 });

  const ticks = (await client.list({ type: 'report.nightly', limit: 100 })).items;
  await worker.stop();
  await server.close();
  await store.close();
  return { url: server.url, ticks, report, children, approval: sent, slots };
}
