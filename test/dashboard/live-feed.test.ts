import { describe, expect, it } from 'vitest';
import { ThroughputSampler } from '../../src/server/throughput.js';
import { parseSse } from '../../web/src/api/sse.js';

describe('throughput sampler', () => {
  const t0 = Date.parse('2025-01-01T10:00:00Z');

  it('adds the growth of completed and failed to the minute it was seen in', () => {
    const s = new ThroughputSampler(5);
    s.record({ completed: 10, failed: 1 }, t0); // the baseline: nothing before it is counted
    s.record({ completed: 13, failed: 1 }, t0 + 10_000);
    s.record({ completed: 15, failed: 3 }, t0 + 70_000);
    const { points, bucketMs } = s.read(t0 + 90_000);
    expect(bucketMs).toBe(60_000);
    expect(points).toHaveLength(5);
    expect(points.slice(-2)).toEqual([
      { at: '2025-01-01T10:00:00.000Z', completed: 3, failed: 0 },
      { at: '2025-01-01T10:01:00.000Z', completed: 2, failed: 2 },
    ]);
    expect(points.slice(0, 3).every((p) => p.completed === 0 && p.failed === 0)).toBe(true);
  });

  it('never counts a shrinking total (pruning, deletes, manual retries) as negative work', () => {
    const s = new ThroughputSampler(2);
    s.record({ completed: 100, failed: 10 }, t0);
    s.record({ completed: 40, failed: 8 }, t0 + 1000);
    s.record({ completed: 41, failed: 9 }, t0 + 2000);
    expect(s.read(t0 + 3000).points.at(-1)).toEqual({
      at: '2025-01-01T10:00:00.000Z',
      completed: 1,
      failed: 1,
    });
  });

  it('forgets minutes that left the window', () => {
    const s = new ThroughputSampler(3);
    s.record({ completed: 0 }, t0);
    s.record({ completed: 5 }, t0 + 1000);
    s.record({ completed: 5 }, t0 + 10 * 60_000);
    expect(s.read(t0 + 10 * 60_000).points.every((p) => p.completed === 0)).toBe(true);
  });
});

describe('dashboard SSE parser', () => {
  it('splits complete messages, keeps the unfinished rest, skips comments', () => {
    const { messages, rest } = parseSse(
      'retry: 2000\n\n: keepalive\n\nevent: snapshot\ndata: {"a":1}\n\nevent: change\r\ndata: {}\r\n\r\nevent: snap',
    );
    expect(messages).toEqual([
      { event: 'snapshot', data: '{"a":1}' },
      { event: 'change', data: '{}' },
    ]);
    expect(rest).toBe('event: snap');
  });

  it('joins multi-line data', () => {
    expect(parseSse('data: one\ndata: two\n\n').messages).toEqual([{ event: 'message', data: 'one\ntwo' }]);
  });
});
