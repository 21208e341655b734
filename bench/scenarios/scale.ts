import { OpenDashboard } from '../lib/dashboard.js';
import { DbCostMeter, vacuumAnalyze } from '../lib/pgstat.js';
import { inChunks, payloads } from '../lib/seed.js';
import { median } from '../lib/stats.js';
import { now, type Sample, sleep } from '../lib/types.js';
import type { ScaleOps } from '../systems/driver.js';
import { type ScenarioContext, withProducer, withWorker } from './context.js';
import { probePickup } from './latency.js';

/** Overview reads timed per figure (after one untimed read); the figure is their median. */
const READS = 20;
/** How long a freshly started server is left alone before its busy time is read (startup work). */
const SETTLE_MS = 3000;

function log(ctx: ScenarioContext, msg: string): void {
  console.log(`  ${ctx.driver.name}: ${msg}`);
}

/** Median ms of READS calls of fn, one after another, after one untimed call. */
export async function timeReads(fn: () => Promise<unknown>): Promise<number> {
  await fn();
  const ms: number[] = [];
  for (let i = 0; i < READS; i++) {
    const t0 = now();
    await fn();
    ms.push(now() - t0);
  }
  return median(ms);
}

async function getJson(url: string): Promise<unknown> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url} answered ${res.status}`);
  return res.json();
}

/** Resets the store and runs fn with the system's scale operations open. */
async function withScale(ctx: ScenarioContext, fn: (ops: ScaleOps) => Promise<Sample>): Promise<Sample> {
  if (!ctx.driver.scale) throw new Error(`${ctx.driver.name} has no scale operations`);
  await ctx.driver.reset();
  const ops = await ctx.driver.scale();
  try {
    return await fn(ops);
  } finally {
    await ops.close();
  }
}

async function seeded(ctx: ScenarioContext, what: string, seed: () => Promise<void>): Promise<void> {
  const t0 = now();
  await seed();
  if (ctx.driver.database) await vacuumAnalyze(ctx.cfg.pgUrl, ctx.driver.database);
  const s = (now() - t0) / 1000;
  log(ctx, `${ctx.cfg.scaleTotal.toLocaleString('en-US')} ${what} seeded in ${s.toFixed(1)} s`);
}

/** The pickup probe with a fresh worker of the probed type. */
function probe(ctx: ScenarioContext): Promise<{ p50: number; p99: number }> {
  return withProducer(ctx, (producer) =>
    withWorker(ctx, async (worker) => {
      await worker.go();
      return probePickup(producer, worker, ctx.cfg.pickupTotal, ctx.cfg.pickupGapMs);
    }),
  );
}

/**
 * What a `gaffer serve` on the seeded database costs: with `busy`, its database's busy time
 * while the server is idle and then while one dashboard is open; then GET /api/v1/stats.
 */
async function serverProbes(
  ctx: ScenarioContext,
  ops: ScaleOps,
  phase: 'queued' | 'completed',
  busy: boolean,
): Promise<Sample> {
  if (!ops.serve) return {};
  const out: Sample = {};
  const server = await ops.serve();
  try {
    await sleep(SETTLE_MS);
    if (busy && ctx.driver.database) {
      const meter = await DbCostMeter.open(ctx.cfg.pgUrl, ctx.driver.database);
      try {
        const idle = await meter.window(ctx.cfg.busySeconds);
        out.busy_idle = idle.busy * 100;
        out.cpu_idle = idle.cpu * 100;
        const dashboard = await OpenDashboard.open(server.url);
        try {
          await sleep(2000);
          dashboard.takeRequests();
          const open = await meter.window(ctx.cfg.busySeconds);
          out.busy_dashboard = open.busy * 100;
          out.cpu_dashboard = open.cpu * 100;
          const per = Object.entries(dashboard.takeRequests())
            .map(([path, n]) => `${path} ${(n / open.seconds).toFixed(2)}/s`)
            .join(', ');
          log(ctx, `the open dashboard requested ${per || 'nothing'} (the live stream is one long request)`);
        } finally {
          await dashboard.close();
        }
      } finally {
        await meter.close();
      }
    }
    out[phase === 'queued' ? 'stats_api_queued_ms' : 'stats_api_completed_ms'] = await timeReads(() =>
      getJson(`${server.url}/api/v1/stats`),
    );
  } finally {
    await server.stop();
  }
  return out;
}

/**
 * backlog: `scaleTotal` tasks of another type (or queue) waiting; the overview reads; the pickup
 * probe of the bench's type with a fresh idle worker; for Gaffer, then the busy time of an idle
 * `gaffer serve` and of one open dashboard, and GET /api/v1/stats.
 */
export function backlog(ctx: ScenarioContext): Promise<Sample> {
  return withScale(ctx, async (ops) => {
    await seeded(ctx, 'waiting tasks of another type', () => ops.seedBacklog(ctx.cfg.scaleTotal));
    const out: Sample = {};
    if (ops.overview) out.overview_queued_ms = await timeReads(() => ops.overview!());
    const { p50, p99 } = await probe(ctx);
    out.backlog_pickup_p50 = p50;
    out.backlog_pickup_p99 = p99;
    return { ...out, ...(await serverProbes(ctx, ops, 'queued', true)) };
  });
}

/** Creates n tasks of the probed type in bulk and drains them with a worker: history by the real path. */
async function drainInto(ctx: ScenarioContext, n: number): Promise<void> {
  // At least 2,000 tasks/s, whatever else shares the machine.
  const timeoutMs = Math.max(120_000, n / 2);
  await withProducer(ctx, async (producer) => {
    await inChunks(n, 5000, 2, (from, count) => producer.bulk(payloads(from, count)));
    await withWorker(ctx, async (worker) => {
      await worker.go();
      await worker.handled(n, timeoutMs);
    });
    const deadline = now() + timeoutMs;
    for (;;) {
      const done = await producer.completed();
      if (done === n) return;
      if (done > n || now() > deadline) throw new Error(`${done} completions recorded, expected ${n}`);
      await sleep(250);
    }
  });
}

/** history: `scaleTotal` completed tasks of the probed type; the overview reads, the probe, /api/v1/stats. */
export function history(ctx: ScenarioContext): Promise<Sample> {
  return withScale(ctx, async (ops) => {
    const n = ctx.cfg.scaleTotal;
    await seeded(ctx, 'completed tasks', () => (ops.seedHistory ? ops.seedHistory(n) : drainInto(ctx, n)));
    const out: Sample = {};
    if (ops.overview) out.overview_completed_ms = await timeReads(() => ops.overview!());
    const { p50, p99 } = await probe(ctx);
    out.history_pickup_p50 = p50;
    out.history_pickup_p99 = p99;
    return { ...out, ...(await serverProbes(ctx, ops, 'completed', false)) };
  });
}

/** overview (opt-in, for the 10M run): `scaleTotal` waiting; the overview reads and GET /api/v1/stats only. */
export function overview(ctx: ScenarioContext): Promise<Sample> {
  return withScale(ctx, async (ops) => {
    await seeded(ctx, 'waiting tasks of another type', () => ops.seedBacklog(ctx.cfg.scaleTotal));
    const out: Sample = {};
    if (ops.overview) out.overview_queued_ms = await timeReads(() => ops.overview!());
    return { ...out, ...(await serverProbes(ctx, ops, 'queued', false)) };
  });
}
