import { describe, expect, it } from 'vitest';
import { type BackoffPolicy, backoffDelayMs, DEFAULT_BACKOFF } from '../src/core/backoff.js';

const NO_JITTER: BackoffPolicy = { baseMs: 1000, factor: 2, maxMs: 60_000, jitter: 0 };

describe('backoffDelayMs', () => {
  it('grows exponentially from the base without jitter', () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffDelayMs(NO_JITTER, n))).toEqual([
      1000, 2000, 4000, 8000, 16_000,
    ]);
  });

  it('is capped at maxMs', () => {
    expect(backoffDelayMs(NO_JITTER, 7)).toBe(60_000);
    expect(backoffDelayMs(NO_JITTER, 50)).toBe(60_000);
  });

  it('treats attempt 0 and below like the first attempt', () => {
    expect(backoffDelayMs(NO_JITTER, 0)).toBe(1000);
    expect(backoffDelayMs(NO_JITTER, -3)).toBe(1000);
  });

  it('with full jitter stays within the upper half [d/2, d]', () => {
    const policy = { ...NO_JITTER, jitter: 1 };
    expect(backoffDelayMs(policy, 3, () => 0)).toBe(4000);
    expect(backoffDelayMs(policy, 3, () => 0.5)).toBe(3000);
    expect(backoffDelayMs(policy, 3, () => 1)).toBe(2000);
    for (let i = 0; i < 200; i++) {
      const d = backoffDelayMs(policy, 3);
      expect(d).toBeGreaterThanOrEqual(2000);
      expect(d).toBeLessThanOrEqual(4000);
    }
  });

  it('scales the jitter span by the jitter factor and clamps it to [0, 1]', () => {
    expect(backoffDelayMs({ ...NO_JITTER, jitter: 0.5 }, 3, () => 1)).toBe(3000);
    expect(backoffDelayMs({ ...NO_JITTER, jitter: 5 }, 3, () => 1)).toBe(2000);
    expect(backoffDelayMs({ ...NO_JITTER, jitter: -1 }, 3, () => 1)).toBe(4000);
  });

  it('returns whole milliseconds', () => {
    const policy: BackoffPolicy = { baseMs: 333, factor: 1.5, maxMs: 10_000, jitter: 1 };
    for (let n = 1; n <= 6; n++) expect(Number.isInteger(backoffDelayMs(policy, n, () => 0.37))).toBe(true);
  });

  it('the default policy (1 s base, doubling, up to 5 min, full jitter) grows on average', () => {
    expect(DEFAULT_BACKOFF).toEqual({ baseMs: 1000, factor: 2, maxMs: 300_000, jitter: 1 });
    const mean = (n: number) => {
      let sum = 0;
      for (let i = 0; i < 500; i++) sum += backoffDelayMs(DEFAULT_BACKOFF, n);
      return sum / 500;
    };
    // Ranges [500, 1000] and [1000, 2000] only touch at 1000, so the means are strictly ordered.
    expect(mean(2)).toBeGreaterThan(mean(1));
    expect(backoffDelayMs(DEFAULT_BACKOFF, 30, () => 0)).toBe(300_000);
  });
});
