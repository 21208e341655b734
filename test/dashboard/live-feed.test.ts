import { describe, expect, it } from 'vitest';
import { parseSse } from '../../web/src/api/sse.js';

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
