import { DbCostMeter } from '../lib/pgstat.js';
import type { MetricName, Sample } from '../lib/types.js';
import { sleep } from '../lib/types.js';
import type { WorkerHandle } from '../lib/worker-handle.js';
import { type ScenarioContext, withProducer } from './context.js';
import { probePickup } from './latency.js';

/** How long a started fleet is left to register and settle into its waiting claims. */
const SETTLE_MS = 3000;

async function withFleet<T>(
  ctx: ScenarioContext,
  n: number,
  fn: (w: WorkerHandle) => Promise<T>,
): Promise<T> {
  const fleet = await ctx.makeFleet!(n);
  try {
    return await fn(fleet);
  } finally {
    await fleet.close();
  }
}

/**
 * idle_fleet: HTTP workers against one `gaffer serve`, each holding one waiting long-poll claim:
 * first a fleet of 10, then one of `fleetSize` (500). For each, the database's transactions per
 * second while the fleet sits idle, then the pickup probe (a task every pickupGapMs, any worker
 * takes it).
 */
export async function idleFleet(ctx: ScenarioContext): Promise<Sample> {
  const { cfg, driver } = ctx;
  if (!ctx.makeFleet || !driver.database) throw new Error(`${driver.name} has no fleet`);
  await driver.reset();
  const meter = await DbCostMeter.open(cfg.pgUrl, driver.database);
  const out: Sample = {};
  const fleets: Array<[number, MetricName, MetricName, MetricName]> = [
    [10, 'fleet10_p50', 'fleet10_p99', 'fleet10_xact'],
    [cfg.fleetSize, 'idle_fleet_p50', 'idle_fleet_p99', 'idle_fleet_xact'],
  ];
  try {
    for (const [size, p50, p99, xact] of fleets) {
      await withProducer(ctx, (producer) =>
        withFleet(ctx, size, async (fleet) => {
          await fleet.go();
          await sleep(SETTLE_MS);
          const idle = await meter.window(cfg.busySeconds);
          out[xact] = idle.xactPerSecond;
          console.log(
            `  ${driver.name}: ${size} idle workers: ${idle.xactPerSecond.toFixed(1)} xact/s, database busy ${(idle.busy * 100).toFixed(1)} % of a core`,
          );
          const r = await probePickup(producer, fleet, cfg.pickupTotal, cfg.pickupGapMs);
          out[p50] = r.p50;
          out[p99] = r.p99;
        }),
      );
    }
  } finally {
    await meter.close();
  }
  return out;
}
