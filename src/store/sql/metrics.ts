import { assessLiveness, parseLivenessReport } from '../../core/liveness.js';
import type { Queryable } from '../db.js';
import type { MetricsSnapshot } from '../observability.js';
import { countsByQueue, runnableCounts } from './counts.js';

/**
 * Everything behind the gauges and the alert rules: the counts from the task counters (migration
 * 0006, see counts.ts), whose reads cost the same at any table size, and the workers. Every server
 * node reads the same numbers.
 */
const WORKERS = `
with clock as (select coalesce($1::timestamptz, now()) as now)
select (select now from clock) as at,
  (select coalesce(json_agg(l), '[]') from (
    select w.id, w.machine_id as "machineId", w.types, w.queues,
      (w.stats ->> 'processed')::float8 as processed, (w.stats ->> 'failed')::float8 as failed,
      w.stats ->> 'startedAt' as "startedAt", w.liveness,
      (extract(epoch from w.last_heartbeat_at) * 1000)::float8 as "lastHeartbeatMs"
    from workers w
    where w.stale_at is null
      and w.last_heartbeat_at > (select now from clock) - make_interval(secs => $2::int / 1000.0)
  ) l) as live_workers,
  (select count(*)::int from workers w
    where w.stale_at is not null
      or w.last_heartbeat_at <= (select now from clock) - make_interval(secs => $2::int / 1000.0)) as stale_workers,
  (select coalesce(json_agg(json_build_object('scope', f.scope, 'name', f.name)), '[]') from flow_controls f
    where f.paused_at is not null) as paused`;

interface SnapshotRow {
  at: Date | string;
  live_workers: unknown;
  stale_workers: number;
  paused: unknown;
}

/** json_agg arrives parsed from pg and PGlite alike; parse only if a driver hands back text. */
function json<T>(v: unknown): T {
  return (typeof v === 'string' ? JSON.parse(v) : v) as T;
}

export async function metricsSnapshot(
  db: Queryable,
  now: Date | null,
  staleAfterMs: number,
  leaseMs: number,
): Promise<MetricsSnapshot> {
  const [res, runnable, others] = await Promise.all([
    db.query<SnapshotRow>(WORKERS, [now, staleAfterMs]),
    runnableCounts(db, now),
    countsByQueue(db, ['running', 'failed']),
  ]);
  const row = res.rows[0]!;
  const depth = new Map<string, MetricsSnapshot['depth'][number]>();
  const waiting = new Map<string, MetricsSnapshot['waiting'][number]>();
  for (const r of runnable) {
    const d = depth.get(`${r.queue}\u0000${r.status}`);
    if (d) d.count += r.count;
    else depth.set(`${r.queue}\u0000${r.status}`, { queue: r.queue, status: r.status, count: r.count });
    if (r.count - r.later <= 0) continue;
    const w = waiting.get(`${r.queue}\u0000${r.type}`);
    if (w) {
      w.count += r.count - r.later;
      w.oldestAgeMs = Math.max(w.oldestAgeMs, r.oldestAgeMs ?? 0);
    } else {
      waiting.set(`${r.queue}\u0000${r.type}`, {
        queue: r.queue,
        type: r.type,
        count: r.count - r.later,
        oldestAgeMs: r.oldestAgeMs ?? 0,
      });
    }
  }
  const deadLetters: MetricsSnapshot['deadLetters'] = [];
  for (const r of others) {
    if (r.status === 'failed') {
      deadLetters.push({ queue: r.queue, type: r.type, count: r.count });
      continue;
    }
    const d = depth.get(`${r.queue}\u0000${r.status}`);
    if (d) d.count += r.count;
    else depth.set(`${r.queue}\u0000${r.status}`, { queue: r.queue, status: 'running', count: r.count });
  }
  const workers = json<
    Array<
      Omit<MetricsSnapshot['liveWorkers'][number], 'startedAt' | 'eventLoopLagMs' | 'suspectedStuck'> & {
        startedAt: string | null;
        liveness: unknown;
        lastHeartbeatMs: number;
      }
    >
  >(row.live_workers);
  const at = row.at instanceof Date ? row.at : new Date(row.at);
  return {
    at,
    depth: [...depth.values()],
    waiting: [...waiting.values()],
    deadLetters,
    liveWorkers: workers.map(({ liveness, lastHeartbeatMs, ...w }) => {
      const started = w.startedAt ? new Date(w.startedAt) : null;
      const verdict = assessLiveness(parseLivenessReport(liveness), {
        lastHeartbeatMs,
        nowMs: at.getTime(),
        leaseMs,
        stale: false,
      });
      return {
        ...w,
        eventLoopLagMs: verdict.eventLoopLagMs,
        suspectedStuck: verdict.suspectedStuck,
        types: w.types ?? [],
        queues: w.queues ?? [],
        startedAt: started && !Number.isNaN(started.getTime()) ? started : null,
      };
    }),
    staleWorkers: row.stale_workers,
    paused: json<Array<{ scope: 'queue' | 'type'; name: string }>>(row.paused),
  };
}
