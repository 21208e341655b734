/** A server-sent-events parser for a stream read with fetch (EventSource cannot send an Authorization header). */

export interface SseMessage {
  event: string;
  data: string;
  id?: string;
}

/** Splits a text buffer into complete SSE messages; returns them and the unparsed rest. */
export function parseSse(buffer: string): { messages: SseMessage[]; rest: string } {
  const messages: SseMessage[] = [];
  const blocks = buffer.replace(/\r\n/g, '\n').split('\n\n');
  const rest = blocks.pop() ?? '';
  for (const block of blocks) {
    const msg: SseMessage = { event: 'message', data: '' };
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (field === 'event') msg.event = value;
      else if (field === 'data') data.push(value);
      else if (field === 'id') msg.id = value;
    }
    msg.data = data.join('\n');
    if (data.length > 0 || msg.event !== 'message') messages.push(msg);
  }
  return { messages, rest };
}
