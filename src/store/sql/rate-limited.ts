import type { Queryable } from '../db.js';
import type { AttemptRef } from '../types.js';
import { lostReason } from './claims.js';
import { requeueFrom } from './requeue.js';

/**
 * A handler met a provider's rate limit (issue 14, item 3): its attempt goes back to the queue, runnable
 * at now + retryAfterMs, without spending an attempt. It is a hand-back (claims.ts HAND_BACK) with a
 * later run time and its own history event: the unstarted budget is kept by raising attempt_floor,
 * the attempt's claim is written as a row (its attempt did not complete), and the claim is released.
 */
const RATE_LIMITED = `
with back as (
  update tasks t set status = 'queued', attempt_floor = t.attempt_floor + 1, worker_id = null,
    lease_expires_at = null, deadline_at = null, started_at = null, updated_at = now(),
    run_at = coalesce($4::timestamptz, now()) + make_interval(secs => $5::int / 1000.0)
  from tasks o
  where t.id = $1 and o.seq = t.seq and t.attempt = $2 and t.status = 'running'
    and ($3::text is null or t.worker_id = $3)
  returning t.seq, t.id, t.attempt, o.worker_id, o.started_at, t.queue, t.type, t.priority, t.run_at,
    t.session_id, t.session_index, t.avoid_machine_id, t.avoid_labels, t.claim_id, t.concurrency_key
),
requeued as (${requeueFrom('back', 'queued')}),
released as (select release_claims(array(select claim_id from back))),
ev as (
  insert into task_events (task_id, attempt, kind, worker_id, at, data)
  select id, attempt, 'claimed', worker_id, started_at, null from back
  union all
  select id, attempt, 'rate_limited', worker_id, now(),
    jsonb_strip_nulls(jsonb_build_object('until', run_at, 'retryAfterMs', $5::int, 'reason', $6::text))
  from back
)
select b.id, b.queue, b.type, b.run_at from back b, released`;

export interface RateLimitedRow {
  id: string;
  queue: string;
  type: string;
  run_at: Date;
}

/** Pushes a held attempt back until now + retryAfterMs; throws LeaseLostError when it is no longer held. */
export async function rateLimitTask(
  tx: Queryable,
  p: AttemptRef & { retryAfterMs: number; reason?: string; now?: Date },
): Promise<RateLimitedRow> {
  const res = await tx.query<RateLimitedRow>(RATE_LIMITED, [
    p.taskId,
    p.attempt,
    p.workerId ?? null,
    p.now ?? null,
    p.retryAfterMs,
    p.reason ?? null,
  ]);
  const row = res.rows[0];
  if (!row) throw await lostReason(tx, p);
  return { ...row, run_at: new Date(row.run_at) };
}
