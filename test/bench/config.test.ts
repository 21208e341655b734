import { describe, expect, it } from 'vitest';
import { parseArgs } from '../../bench/lib/config.js';
import { inChunks } from '../../bench/lib/seed.js';
import { DEFAULT_SCENARIOS } from '../../bench/lib/types.js';

describe('bench arguments', () => {
  it('--scale multiplies the million tasks of the scale scenarios', () => {
    expect(parseArgs([]).cfg.scaleTotal).toBe(1_000_000);
    expect(parseArgs(['--scale=0.01']).cfg.scaleTotal).toBe(10_000);
    expect(parseArgs(['--scale=10', '--scenarios=overview']).cfg.scaleTotal).toBe(10_000_000);
    expect(() => parseArgs(['--scale=0'])).toThrow(/--scale/);
    expect(() => parseArgs(['--scale=lots'])).toThrow(/--scale/);
  });

  it('a plain run takes every scenario but the opt-in overview, and only it writes the docs', () => {
    const all = parseArgs([]);
    expect(all.cfg.scenarios).toEqual([...DEFAULT_SCENARIOS]);
    expect(all.cfg.scenarios).toContain('backlog');
    expect(all.cfg.scenarios).not.toContain('overview');
    expect(all.docs).toBe(true);
    expect(all.out).toBe('bench/results/latest.json');
    // Another scale, or a subset, is a partial run: it never overwrites the committed figures.
    for (const argv of [['--scale=0.01'], ['--scenarios=backlog'], ['--quick']]) {
      const inv = parseArgs(argv);
      expect(inv.docs, argv.join(' ')).toBe(false);
      expect(inv.out, argv.join(' ')).toBe('bench/results/partial.json');
    }
  });
});

describe('inChunks', () => {
  it('covers [0, n) exactly once with at most `parallel` chunks in flight', async () => {
    const seen: number[] = [];
    let inFlight = 0;
    let most = 0;
    await inChunks(1003, 100, 3, async (from, count) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, 1));
      for (let i = from; i < from + count; i++) seen.push(i);
      inFlight--;
    });
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 1003 }, (_, i) => i));
    expect(most).toBe(3);
  });
});
