import type { Worker } from '../../api/types';

/** Processed / failed / success rate / uptime of a worker, from the stats its heartbeats carry. */
export function workerStats(w: Worker, now: number) {
  const processed = w.stats?.processed ?? null;
  const failed = w.stats?.failed ?? null;
  const successRate = processed !== null && processed > 0 ? (processed - (failed ?? 0)) / processed : null;
  const start = new Date(w.stats?.startedAt ?? w.registeredAt).getTime();
  const endIso = w.deregisteredAt ?? w.staleAt;
  const end = endIso ? new Date(endIso).getTime() : now;
  return { processed, failed, successRate, uptimeMs: Math.max(0, end - start) };
}

/** One line of a worker's free-form state, for tables. */
export function stateLine(w: Worker): string {
  const s = w.state;
  if (s === null || s === undefined) return '';
  if (typeof s === 'string') return s;
  if (typeof s === 'object' && !Array.isArray(s)) {
    const pick = s.status ?? s.message ?? s.stage ?? s.phase;
    if (typeof pick === 'string') return pick;
  }
  const text = JSON.stringify(s);
  return text.length > 80 ? `${text.slice(0, 77)}…` : text;
}
