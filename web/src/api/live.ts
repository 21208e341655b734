/**
 * The live stream: GET /api/v1/live (server-sent events) read with fetch, so the bearer
 * token goes in a header. Each `snapshot` (every second) sets the overview numbers and
 * refreshes the queries on screen; TanStack Query keeps the old data until the new arrives, so numbers,
 * statuses and progress move without a reload. Falls back to polling when the stream is down.
 */
import { type QueryClient, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { noteError } from './auth';
import { ApiError, authHeaders } from './client';
import { keys } from './queries';
import { parseSse } from './sse';

export type LiveStatus = 'connecting' | 'live' | 'polling' | 'unavailable';

function refresh(qc: QueryClient): void {
  // The snapshot itself is the body of GET /stats, so that query is set, not fetched.
  void qc.invalidateQueries(
    { refetchType: 'active', predicate: (q) => q.queryKey[0] !== 'stats' },
    { cancelRefetch: false },
  );
}

const POLL_MS = 2000;
/** Screens refresh at most this often, however busy the stream (a snapshot a second, change events between). */
const MIN_REFRESH_MS = 1000;

/** Runs fn at once, or at the end of the current interval if it ran less than `ms` ago; calls in between merge. */
function throttle(fn: () => void, ms: number): () => void {
  let last = 0;
  let timer: ReturnType<typeof setTimeout> | null = null;
  const run = () => {
    timer = null;
    last = Date.now();
    fn();
  };
  return () => {
    if (timer) return;
    const wait = last + ms - Date.now();
    if (wait <= 0) run();
    else timer = setTimeout(run, wait);
  };
}

/** Reads the stream until it ends; each snapshot updates the overview numbers and refreshes what is on screen. */
async function readStream(
  qc: QueryClient,
  signal: AbortSignal,
  onStatus: (s: LiveStatus) => void,
): Promise<void> {
  const res = await fetch('/api/v1/live', {
    headers: { accept: 'text/event-stream', 'x-gaffer-request': '1', ...authHeaders() },
    signal,
  });
  if (!res.ok || !res.body) throw new ApiError(res.status, `live stream answered ${res.status}`);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  const changed = throttle(() => refresh(qc), MIN_REFRESH_MS);
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    const { messages, rest } = parseSse(buffer);
    buffer = rest;
    for (const m of messages) {
      if (m.event === 'unavailable') {
        onStatus('unavailable');
        continue;
      }
      onStatus('live');
      if (m.event === 'snapshot') {
        const snap = safeJson(m.data);
        if (snap) qc.setQueryData(keys.stats, snap);
      }
      changed();
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
          await readStream(qc, ctl.signal, (st) => {
            delay = 500;
            stopPolling();
            setStatus(st);
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
