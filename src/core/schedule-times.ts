import { Cron } from 'croner';
import { ValidationError } from './errors.js';

/**
 * When a schedule's ticks fall: a cron expression read in a time zone, or a fixed interval counted
 * from an anchor. Pure computation (croner parses and walks the cron; nothing here keeps timers),
 * so the store can decide a schedule's due ticks inside the transaction that fires them.
 */
export interface ScheduleTiming {
  cron: string | null;
  everyMs: number | null;
  timezone: string;
  /** Interval schedules tick at anchorAt + k × everyMs, so every server computes the same ticks. */
  anchorAt: Date;
}

export const MIN_EVERY_MS = 100;
export const MAX_EVERY_MS = 366 * 24 * 3600_000;
/** Seconds are allowed (six fields), years too (seven): croner's "auto" mode. */
const CRON_MODE = 'auto' as const;

export interface TimingProblem {
  field: string;
  message: string;
}

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function cronOf(t: Pick<ScheduleTiming, 'cron' | 'timezone'>): Cron {
  return new Cron(t.cron as string, { timezone: t.timezone, mode: CRON_MODE });
}

/** Every problem of a timing, each naming its field (`cron`, `everyMs`, `timezone`); empty when it is valid. */
export function timingProblems(t: {
  cron?: string | null;
  everyMs?: number | null;
  timezone?: string | null;
}): TimingProblem[] {
  const out: TimingProblem[] = [];
  const hasCron = t.cron !== undefined && t.cron !== null;
  const hasEvery = t.everyMs !== undefined && t.everyMs !== null;
  if (hasCron === hasEvery) {
    out.push({ field: hasCron ? 'everyMs' : 'cron', message: 'give exactly one of cron and everyMs' });
  }
  const tz = t.timezone ?? 'UTC';
  if (typeof tz !== 'string' || !isTimeZone(tz)) {
    out.push({ field: 'timezone', message: 'must be an IANA time zone such as UTC or Europe/Berlin' });
  }
  if (hasEvery) {
    const n = t.everyMs as number;
    if (!Number.isInteger(n) || n < MIN_EVERY_MS || n > MAX_EVERY_MS) {
      out.push({ field: 'everyMs', message: `must be an integer from ${MIN_EVERY_MS} to ${MAX_EVERY_MS}` });
    }
  }
  if (hasCron) {
    if (typeof t.cron !== 'string' || t.cron.length > 200) {
      out.push({ field: 'cron', message: 'must be a cron expression of at most 200 characters' });
    } else {
      try {
        const c = new Cron(t.cron, {
          mode: CRON_MODE,
          timezone: out.some((p) => p.field === 'timezone') ? 'UTC' : tz,
        });
        if (c.nextRun() === null) out.push({ field: 'cron', message: 'never runs again' });
      } catch (err) {
        out.push({ field: 'cron', message: `is not a valid cron expression (${(err as Error).message})` });
      }
    }
  }
  return out;
}

/** Throws a ValidationError listing every invalid timing field. */
export function checkTiming(t: Parameters<typeof timingProblems>[0]): void {
  const problems = timingProblems(t);
  if (problems.length === 0) return;
  const detail = problems.map((p) => `${p.field} ${p.message}`).join('; ');
  throw new ValidationError(detail, { field: problems[0]!.field, errors: problems });
}

/** The first tick strictly after `after`; null when the cron never runs again. */
export function nextTickAfter(t: ScheduleTiming, after: Date): Date | null {
  if (t.everyMs !== null) {
    const k = Math.floor((after.getTime() - t.anchorAt.getTime()) / t.everyMs) + 1;
    return new Date(t.anchorAt.getTime() + Math.max(k, 0) * t.everyMs);
  }
  return cronOf(t).nextRun(after);
}

/** The next `n` ticks after `after`, for showing. */
export function upcomingTicks(t: ScheduleTiming, after: Date, n: number): Date[] {
  const out: Date[] = [];
  let at: Date | null = after;
  while (out.length < n && at) {
    at = nextTickAfter(t, at);
    if (at) out.push(at);
  }
  return out;
}

/** How far a cron's due ticks are counted one by one before the count is given as a lower bound. */
const COUNT_CAP = 100_000;

/**
 * The ticks in [from, now], split into those on time (at most `graceMs` late: they always run)
 * and the missed ones (later than that: a downtime), of which only the newest `missedLimit` are
 * returned. `missedCount` counts all of them (for a cron, up to COUNT_CAP).
 */
export function dueTicks(
  t: ScheduleTiming,
  from: Date,
  now: Date,
  graceMs: number,
  missedLimit: number,
): { onTime: Date[]; missed: Date[]; missedCount: number } {
  const lateBefore = now.getTime() - graceMs;
  if (from.getTime() > now.getTime()) return { onTime: [], missed: [], missedCount: 0 };
  if (t.everyMs !== null) {
    const anchor = t.anchorAt.getTime();
    const first = Math.ceil((from.getTime() - anchor) / t.everyMs);
    const last = Math.floor((now.getTime() - anchor) / t.everyMs);
    const firstOnTime = Math.max(first, Math.ceil((lateBefore - anchor) / t.everyMs));
    const at = (k: number) => new Date(anchor + k * t.everyMs!);
    const onTime: Date[] = [];
    for (let k = firstOnTime; k <= last; k++) onTime.push(at(k));
    const missedCount = Math.max(0, Math.min(firstOnTime, last + 1) - first);
    const missed: Date[] = [];
    for (let k = Math.max(first, firstOnTime - missedLimit); k < firstOnTime && k <= last; k++)
      missed.push(at(k));
    return { onTime, missed, missedCount };
  }
  const cron = cronOf(t);
  const onTime: Date[] = [];
  const missed: Date[] = [];
  let missedCount = 0;
  // from itself is a tick (the stored next run); nextRun is exclusive, so start just before it.
  let at: Date | null = cron.nextRun(new Date(from.getTime() - 1));
  while (at && at.getTime() <= now.getTime() && missedCount < COUNT_CAP) {
    if (at.getTime() < lateBefore) {
      missedCount++;
      missed.push(at);
      if (missed.length > missedLimit) missed.shift();
    } else onTime.push(at);
    at = cron.nextRun(at);
  }
  if (missedCount >= COUNT_CAP) {
    // A long downtime of a fast cron: the newest missed ticks and the on-time ones, found from the far end.
    const newest = missedLimit > 0 ? cron.previousRuns(missedLimit, new Date(lateBefore)) : [];
    missed.splice(
      0,
      missed.length,
      ...newest.filter((d) => d.getTime() >= from.getTime() && d.getTime() < lateBefore).reverse(),
    );
    onTime.length = 0;
    for (
      let d = cron.nextRun(new Date(lateBefore - 1));
      d && d.getTime() <= now.getTime();
      d = cron.nextRun(d)
    ) {
      onTime.push(d);
    }
  }
  return { onTime, missed, missedCount };
}
