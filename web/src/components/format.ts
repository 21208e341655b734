/** Formatting helpers: durations, times, progress values. */
import type { Json } from '../api/types';

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

export function formatAgo(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '—';
  const ms = now - new Date(iso).getTime();
  // Server and browser clocks differ by a little: a moment either side reads "just now".
  if (Math.abs(ms) < 1500) return 'just now';
  if (ms < 0) return `in ${formatDuration(-ms)}`;
  return `${formatDuration(ms)} ago`;
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  return new Date(iso).toLocaleString();
}

export function formatPercent(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—';
  return `${Math.round(x * 1000) / 10}%`;
}

export function shortId(id: string | null | undefined): string {
  if (!id) return '—';
  return id.length > 14 ? `${id.slice(0, 6)}…${id.slice(-6)}` : id;
}

function num(v: Json | undefined): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/**
 * Reads a progress value a handler reported (any JSON) as a fraction 0..1 when it can:
 * a number (0..1, or a percentage up to 100), {done|current|completed, total}, {percent}, {fraction}.
 */
export function progressFraction(p: Json | null | undefined): number | null {
  if (p === null || p === undefined) return null;
  if (typeof p === 'number') return clamp(p > 1 ? p / 100 : p);
  if (typeof p !== 'object' || Array.isArray(p)) return null;
  const total = num(p.total);
  const done = num(p.done) ?? num(p.current) ?? num(p.completed) ?? num(p.processed);
  if (total && done !== null) return clamp(done / total);
  const pct = num(p.percent) ?? num(p.pct);
  if (pct !== null) return clamp(pct / 100);
  const frac = num(p.fraction) ?? num(p.progress);
  if (frac !== null) return clamp(frac > 1 ? frac / 100 : frac);
  return null;
}

/** A short text for a progress value: "40%" plus "12/30" or a message when present. */
export function progressLabel(p: Json | null | undefined): string {
  const f = progressFraction(p);
  const parts: string[] = [];
  if (f !== null) parts.push(formatPercent(f));
  if (p && typeof p === 'object' && !Array.isArray(p)) {
    const total = num(p.total);
    const done = num(p.done) ?? num(p.current) ?? num(p.completed) ?? num(p.processed);
    if (total !== null && done !== null) parts.push(`${done}/${total}`);
    const msg = p.message ?? p.stage ?? p.step;
    if (typeof msg === 'string') parts.push(msg);
  }
  if (parts.length === 0) return typeof p === 'string' ? p : JSON.stringify(p);
  return parts.join(' · ');
}

function clamp(x: number): number {
  return Math.min(1, Math.max(0, x));
}
