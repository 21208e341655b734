import { beforeAll, describe, expect, it } from 'vitest';
import { type DemoReport, ordersIn, REGIONS, runDemo } from '../../examples/scheduled-digest/demo.js';

describe('examples/scheduled-digest: a schedule whose tasks fan in over parts', () => {
  let r: DemoReport;
  beforeAll(async () => {
    r = await runDemo({ ticks: 4 });
  }, 120_000);

  it('creates one digest per tick, keyed by the tick, ticks one interval apart', () => {
    const ticks = r.digests.map((d) => Date.parse(String(d.metadata.scheduledFor))).sort((a, b) => a - b);
    expect(ticks.length).toBeGreaterThanOrEqual(4);
    for (let i = 1; i < ticks.length; i++) expect(ticks[i]! - ticks[i - 1]!).toBe(500);
    for (const d of r.digests) {
      expect(d.idempotencyKey).toBe(`schedule:orders-digest:${d.metadata.scheduledFor}`);
      expect(d.queue).toBe('digests');
      expect(d.payload).toEqual({ source: 'orders' });
    }
    expect(r.schedule.runs).toBe(r.digests.length);
  });

  it('each digest spawned a part per region and summed their results after they finished', () => {
    expect(r.parts).toHaveLength(r.digests.length * REGIONS.length);
    for (const d of r.digests) {
      const tick = String(d.metadata.scheduledFor);
      const mine = r.parts.filter((p) => p.parentId === d.id);
      expect(mine.map((p) => (p.payload as { region: string }).region).sort()).toEqual([...REGIONS].sort());
      expect(mine.every((p) => p.status === 'completed')).toBe(true);
      const orders = REGIONS.reduce((n, region) => n + ordersIn(region, tick), 0);
      expect(d.result).toEqual({ tick, parts: 3, orders });
    }
  });

  it('pausing stops the ticks and shows no upcoming runs', () => {
    expect(r.paused.paused).toBe(true);
    expect(r.paused.upcoming).toEqual([]);
    expect(r.schedule.paused).toBe(true);
    expect(r.created.upcoming).toHaveLength(5);
  });
});
