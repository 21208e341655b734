import { beforeAll, describe, expect, it } from 'vitest';
import {
  BROKEN,
  type DemoReport,
  partFigures,
  REGIONS,
  runDemo,
} from '../../examples/nightly-report/demo.js';

// The nightly report (issue 15): a schedule ticks, each tick's report fans out one part per region and
// waits for them without a worker slot, sums what came in, names what did not, then waits for approval.
describe('examples/nightly-report', () => {
  let r: DemoReport;
  beforeAll(async () => {
    r = await runDemo();
  }, 90_000);

  it('the schedule creates the report; the report fans out one child per region and sums the parts', () => {
    expect(r.ticks.length).toBeGreaterThanOrEqual(1);
    expect(r.ticks.every((t) => t.idempotencyKey?.startsWith('schedule:nightly-report:'))).toBe(true);
    const result = r.report.result as {
      night: string;
      parts: number;
      missing: string[];
      orders: number;
      revenue: number;
    };
    const good = REGIONS.filter((x) => x !== BROKEN).map((x) => partFigures(x, result.night));
    expect(result).toMatchObject({
      parts: REGIONS.length - 1,
      missing: [BROKEN],
      orders: good.reduce((a, p) => a + p.orders, 0),
      revenue: good.reduce((a, p) => a + p.revenue, 0),
    });
    // The wait did not spend the report's budget: the first attempt waited, the second summed.
    expect(r.report.attempt).toBe(2);
    expect(r.children).toHaveLength(REGIONS.length);
    for (const c of r.children) expect(c).toMatchObject({ parentId: r.report.id, depth: 1 });
    const broken = r.children.find((c) => c.id.endsWith(BROKEN))!;
    expect(broken.status).toBe('failed');
    expect(broken.error?.message).toContain('not answering');
  });

  it('the report held no worker slot while its parts ran', () => {
    // Two slots and eight parts: the parts could only run once the parent let go of its slot.
    expect(r.slots).toBe(1);
  });

  it('the approval waits for a signal and is sent with who approved it', () => {
    expect(r.approval.status).toBe('completed');
    expect(r.approval.result).toMatchObject({ approvedBy: 'ada@example.com', sent: true, missing: [BROKEN] });
    expect(r.approval.metadata['gaffer.wake']).toEqual({
      kind: 'signal',
      data: { approvedBy: 'ada@example.com' },
    });
  });
});
