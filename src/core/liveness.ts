/**
 * A worker's "suspected stuck" signal: what it reports with each heartbeat, and the verdict read
 * from it and from how long ago its leases were renewed. Pure: the store and the server compute it
 * alike from a worker row.
 */

/** What a worker says about itself with each heartbeat. */
export interface LivenessReport {
  /**
   * How long the worker's main event loop (where its handlers run) could not run: the stall going
   * on when the heartbeat was sent, or the longest since the previous one (perf_hooks), in ms.
   */
  eventLoopLagMs: number;
  /** Heartbeats are sent from a thread of their own, so a blocked event loop does not delay them. */
  heartbeatThread: boolean;
  /** Attempts the worker held (running, completing or prefetched). */
  held: number;
}

export interface WorkerLiveness {
  eventLoopLagMs: number | null;
  heartbeatThread: boolean | null;
  held: number | null;
  /** Since the worker's leases were last renewed (its last heartbeat), when it holds any; else null. */
  leaseAgeMs: number | null;
  suspectedStuck: boolean;
  /** Why it is suspected, in words; null when it is not. */
  reason: string | null;
}

/** A loop blocked for a third of the lease (one heartbeat interval) is suspect. */
export const STUCK_LAG_FRACTION = 1 / 3;
/** Leases half-way to lapsing (at least one heartbeat missed) are suspect: the signal comes before the lapse. */
export const STUCK_LEASE_AGE_FRACTION = 1 / 2;

export function assessLiveness(
  report: LivenessReport | null,
  p: { lastHeartbeatMs: number; nowMs: number; leaseMs: number; stale: boolean },
): WorkerLiveness {
  const holds = report ? report.held > 0 : true;
  const leaseAgeMs = holds ? Math.max(0, p.nowMs - p.lastHeartbeatMs) : null;
  const lag = report?.eventLoopLagMs ?? null;
  let reason: string | null = null;
  if (!p.stale && lag !== null && lag >= p.leaseMs * STUCK_LAG_FRACTION)
    reason = `its event loop was blocked for ${(lag / 1000).toFixed(1)} s (a handler doing synchronous work?)`;
  else if (!p.stale && leaseAgeMs !== null && leaseAgeMs >= p.leaseMs * STUCK_LEASE_AGE_FRACTION)
    reason = `its leases were last renewed ${(leaseAgeMs / 1000).toFixed(1)} s ago (lease ${p.leaseMs / 1000} s): frozen, partitioned or overloaded?`;
  return {
    eventLoopLagMs: lag,
    heartbeatThread: report?.heartbeatThread ?? null,
    held: report?.held ?? null,
    leaseAgeMs,
    suspectedStuck: reason !== null,
    reason,
  };
}

/** A report as sent over the wire or stored: numbers that are numbers, or nothing. */
export function parseLivenessReport(v: unknown): LivenessReport | null {
  if (!v || typeof v !== 'object') return null;
  const r = v as Record<string, unknown>;
  if (typeof r.eventLoopLagMs !== 'number' || !Number.isFinite(r.eventLoopLagMs)) return null;
  return {
    eventLoopLagMs: r.eventLoopLagMs,
    heartbeatThread: r.heartbeatThread === true,
    held: typeof r.held === 'number' ? r.held : 0,
  };
}
