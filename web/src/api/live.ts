/**
 * The live stream: GET /api/v1/live (server-sent events) read with fetch, so the bearer
 * token goes in a header. Each `snapshot` (every second) or change event refreshes the
 * queries on screen; TanStack Query keeps the old data until the new arrives, so numbers,
 * statuses and progress move without a reload. Falls back to polling when the stream is down.
 */
import { type QueryClient, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { noteError } from './auth';
import { ApiError, authHeaders } from './client';

export type LiveStatus = 'connecting' | 'live' | 'polling';

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

/** What in a snapshot says something changed: its `version` when the server sends one, else all but the clock. */
function signature(data: string): string {
  try {
    const v = JSON.parse(data) as Record<string, unknown>;
    if (v && typeof v === 'object') {
      if ('version' in v) return String(v.version);
      const { at: _a, now: _n, time: _t, timestamp: _ts, ...rest } = v;
      return JSON.stringify(rest);
    }
  } catch {
    // not JSON: compare the text
  }
  return data;
}

function refresh(qc: QueryClient): void {
  void qc.invalidateQueries({ refetchType: 'active' }, { cancelRefetch: false });
}

/** How often queries refresh when nothing on the stream says they changed. */
const QUIET_REFRESH_MS = 5000;
const POLL_MS = 2000;

async function readStream(qc: QueryClient, signal: AbortSignal, onOpen: () => void): Promise<void> {
  const res = await fetch('/api/v1/live', {
    headers: { accept: 'text/event-stream', ...authHeaders() },
    signal,
  });
  if (!res.ok || !res.body) throw new ApiError(res.status, `live stream answered ${res.status}`);
  onOpen();
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let last = '';
  let lastRefresh = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    const { messages, rest } = parseSse(buffer);
    buffer = rest;
    for (const m of messages) {
      const sig = m.event === 'snapshot' ? signature(m.data) : null;
      const changed = sig === null || sig !== last;
      if (sig !== null) {
        last = sig;
        qc.setQueryData(['live-snapshot'], safeJson(m.data));
      }
      if (changed || Date.now() - lastRefresh > QUIET_REFRESH_MS) {
        lastRefresh = Date.now();
        refresh(qc);
      }
    }
  }
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return null;
  }
}

/** Keeps the live stream open while the app is mounted; returns its status for the header. */
export function useLiveUpdates(enabled: boolean): LiveStatus {
  const qc = useQueryClient();
  const [status, setStatus] = useState<LiveStatus>('connecting');
  useEffect(() => {
    if (!enabled) return;
    const ctl = new AbortController();
    let poll: ReturnType<typeof setInterval> | null = null;
    const stopPolling = () => {
      if (poll) clearInterval(poll);
      poll = null;
    };
    void (async () => {
      let delay = 500;
      while (!ctl.signal.aborted) {
        try {
          await readStream(qc, ctl.signal, () => {
            delay = 500;
            stopPolling();
            setStatus('live');
          });
        } catch (err) {
          if (ctl.signal.aborted) return;
          noteError(err);
        }
        if (ctl.signal.aborted) return;
        setStatus('polling');
        if (!poll) poll = setInterval(() => refresh(qc), POLL_MS);
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 10_000);
      }
    })();
    return () => {
      ctl.abort();
      stopPolling();
    };
  }, [qc, enabled]);
  return status;
}
