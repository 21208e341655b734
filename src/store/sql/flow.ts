import { NotFoundError, ValidationError } from '../../core/errors.js';
import type { Queryable } from '../db.js';
import type { FlowControl, FlowScope, FlowTarget, RateLimit, SetLimitsParams } from '../flow-types.js';
import { NAME_PATTERN } from './validate.js';
import { notifyCounts } from './wake.js';

/**
 * Flow control's configuration and its read (migration 0012). claim_tasks enforces it; these
 * statements only set it and report it. The read costs the number of controls plus, per control, its
 * counters and its running keyed tasks: never the backlog.
 */
const UPSERT_LIMITS = `
insert into flow_controls as c (scope, name, concurrency, key_concurrency, rate_limit, rate_interval_ms,
  key_rate_limit, key_rate_interval_ms)
values ($1, $2, $3, $4, $5, $6, $7, $8)
on conflict (scope, name) do update set concurrency = excluded.concurrency,
  key_concurrency = excluded.key_concurrency, rate_limit = excluded.rate_limit,
  rate_interval_ms = excluded.rate_interval_ms, key_rate_limit = excluded.key_rate_limit,
  key_rate_interval_ms = excluded.key_rate_interval_ms,
  rate_limited_until = case when excluded.rate_limit is null then null else c.rate_limited_until end,
  updated_at = now()`;

/** A control left with no limit and no pause is removed: an empty flow_controls keeps claims on the fast path. */
const CLEAR_LIMITS = `
update flow_controls set concurrency = null, key_concurrency = null, rate_limit = null, rate_interval_ms = null,
  key_rate_limit = null, key_rate_interval_ms = null, rate_starts = '{}', rate_limited_until = null,
  updated_at = now()
where scope = $1 and name = $2 returning 1`;

const DROP_IF_EMPTY = `
delete from flow_controls where scope = $1 and name = $2 and paused_at is null
  and coalesce(concurrency, key_concurrency, rate_limit, key_rate_limit) is null`;

const PAUSE = `
insert into flow_controls as c (scope, name, paused_at, paused_by) values ($1, $2, now(), $3)
on conflict (scope, name) do update set paused_at = coalesce(c.paused_at, now()),
  paused_by = case when c.paused_at is null then excluded.paused_by else c.paused_by end, updated_at = now()`;

const RESUME = `
update flow_controls set paused_at = null, paused_by = null, updated_at = now()
where scope = $1 and name = $2 and paused_at is not null`;

const LIST = `
with clock as (select now() as now)
select c.scope, c.name, c.paused_at, c.paused_by, c.concurrency, c.key_concurrency, c.rate_limit,
  c.rate_interval_ms, c.key_rate_limit, c.key_rate_interval_ms, c.updated_at,
  case when c.rate_limited_until > (select now from clock) then c.rate_limited_until end as rate_limited_until,
  (select coalesce(sum(n.n), 0)::int from task_counts n where n.status = 'running'
    and ((c.scope = 'queue' and n.queue = c.name) or (c.scope = 'type' and n.type = c.name))) as running,
  (select coalesce(sum(n.n), 0)::int from task_counts n where n.status in ('queued', 'retrying')
    and ((c.scope = 'queue' and n.queue = c.name) or (c.scope = 'type' and n.type = c.name))) as runnable,
  (select count(*)::int from (select 1 from task_key_running r
    where c.key_concurrency is not null
      and ((c.scope = 'queue' and r.queue = c.name) or (c.scope = 'type' and r.type = c.name))
    group by r.key having count(*) >= c.key_concurrency) k) as keys_at_limit,
  (select count(*)::int from flow_key_rates k where k.scope = c.scope and k.name = c.name
    and k.limited_until > (select now from clock)) as keys_rate_limited
from flow_controls c
where ($1::text is null or c.scope = $1) and ($2::text is null or c.name = $2)
order by c.scope, c.name`;

interface FlowRow {
  scope: FlowScope;
  name: string;
  paused_at: Date | null;
  paused_by: string | null;
  concurrency: number | null;
  key_concurrency: number | null;
  rate_limit: number | null;
  rate_interval_ms: number | null;
  key_rate_limit: number | null;
  key_rate_interval_ms: number | null;
  updated_at: Date;
  rate_limited_until: Date | null;
  running: number;
  runnable: number;
  keys_at_limit: number;
  keys_rate_limited: number;
}

function date(v: Date | string | null): Date | null {
  return v === null ? null : v instanceof Date ? v : new Date(v);
}

function rate(limit: number | null, intervalMs: number | null): RateLimit | null {
  return limit === null || intervalMs === null ? null : { limit, intervalMs };
}

function toControl(r: FlowRow): FlowControl {
  const rateLimitedUntil = date(r.rate_limited_until);
  const held =
    r.paused_at !== null ||
    (r.concurrency !== null && r.running >= r.concurrency) ||
    rateLimitedUntil !== null;
  return {
    scope: r.scope,
    name: r.name,
    paused: r.paused_at !== null,
    pausedAt: date(r.paused_at),
    pausedBy: r.paused_by,
    concurrency: r.concurrency,
    keyConcurrency: r.key_concurrency,
    rate: rate(r.rate_limit, r.rate_interval_ms),
    keyRate: rate(r.key_rate_limit, r.key_rate_interval_ms),
    running: r.running,
    waiting: held ? r.runnable : 0,
    rateLimitedUntil,
    keysAtLimit: r.keys_at_limit,
    keysRateLimited: r.keys_rate_limited,
    updatedAt: date(r.updated_at)!,
  };
}

const MAX_LIMIT = 1_000_000;
const MAX_RATE = 10_000;
const MAX_INTERVAL_MS = 24 * 3600_000;

/** Every invalid field at once, so a caller fixes them in one go. */
function checkTarget(p: FlowTarget, problems: Array<{ field: string; message: string }>): void {
  if (p.scope !== 'queue' && p.scope !== 'type')
    problems.push({ field: 'scope', message: 'must be queue or type' });
  if (typeof p.name !== 'string' || !NAME_PATTERN.test(p.name)) {
    problems.push({ field: 'name', message: 'must be 1–100 characters of letters, digits and . _ : - /' });
  }
}

function raise(problems: Array<{ field: string; message: string }>): void {
  if (problems.length === 0) return;
  const text = problems.map((p) => `${p.field} ${p.message}`).join('; ');
  throw new ValidationError(text, { field: problems[0]!.field, errors: problems });
}

export function checkFlowTarget(p: FlowTarget): void {
  const problems: Array<{ field: string; message: string }> = [];
  checkTarget(p, problems);
  raise(problems);
}

function checkCount(
  v: unknown,
  field: string,
  max: number,
  problems: Array<{ field: string; message: string }>,
): void {
  if (v === null || v === undefined) return;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
    problems.push({ field, message: `must be an integer from 1 to ${max}, or null` });
  }
}

function checkRate(v: unknown, field: string, problems: Array<{ field: string; message: string }>): void {
  if (v === null || v === undefined) return;
  if (typeof v !== 'object') {
    problems.push({ field, message: 'must be { limit, intervalMs } or null' });
    return;
  }
  const r = v as Partial<RateLimit>;
  checkCount(r.limit ?? 0, `${field}.limit`, MAX_RATE, problems);
  checkCount(r.intervalMs ?? 0, `${field}.intervalMs`, MAX_INTERVAL_MS, problems);
}

export function checkLimits(p: SetLimitsParams): void {
  const problems: Array<{ field: string; message: string }> = [];
  checkTarget(p, problems);
  checkCount(p.concurrency, 'concurrency', MAX_LIMIT, problems);
  checkCount(p.keyConcurrency, 'keyConcurrency', MAX_LIMIT, problems);
  checkRate(p.rate, 'rate', problems);
  checkRate(p.keyRate, 'keyRate', problems);
  raise(problems);
}

export async function listFlowControls(db: Queryable, target?: Partial<FlowTarget>): Promise<FlowControl[]> {
  const res = await db.query<FlowRow>(LIST, [target?.scope ?? null, target?.name ?? null]);
  return res.rows.map(toControl);
}

async function one(db: Queryable, target: FlowTarget): Promise<FlowControl> {
  const [row] = await listFlowControls(db, target);
  if (!row) throw new NotFoundError(`flow control of ${target.scope}`, target.name);
  return row;
}

/** Sets the scope's limits (all of them: one left out is removed). */
export async function setLimits(tx: Queryable, p: SetLimitsParams): Promise<FlowControl> {
  checkLimits(p);
  await tx.query(UPSERT_LIMITS, [
    p.scope,
    p.name,
    p.concurrency ?? null,
    p.keyConcurrency ?? null,
    p.rate?.limit ?? null,
    p.rate?.intervalMs ?? null,
    p.keyRate?.limit ?? null,
    p.keyRate?.intervalMs ?? null,
  ]);
  return one(tx, p);
}

/** Removes the scope's limits (a pause stays); false when it had no flow control. */
export async function clearLimits(tx: Queryable, p: FlowTarget): Promise<boolean> {
  checkFlowTarget(p);
  const res = await tx.query(CLEAR_LIMITS, [p.scope, p.name]);
  if (res.rows.length > 0) {
    await tx.query(DROP_IF_EMPTY, [p.scope, p.name]);
    await tx.query('delete from flow_key_rates where scope = $1 and name = $2', [p.scope, p.name]);
  }
  return res.rows.length > 0;
}

export async function pause(tx: Queryable, p: FlowTarget & { by?: string }): Promise<FlowControl> {
  checkFlowTarget(p);
  await tx.query(PAUSE, [p.scope, p.name, p.by ?? 'api']);
  return one(tx, p);
}

/** Resumes a paused scope; the control of a scope that was not paused is returned as it is (or null). */
export async function resume(tx: Queryable, p: FlowTarget): Promise<FlowControl | null> {
  checkFlowTarget(p);
  await tx.query(RESUME, [p.scope, p.name]);
  await tx.query(DROP_IF_EMPTY, [p.scope, p.name]);
  const [row] = await listFlowControls(tx, p);
  return row ?? null;
}

const RUNNABLE_IN_SCOPE = `
select queue, type, sum(n)::int as count from task_counts
where status in ('queued', 'retrying') and (($1 = 'queue' and queue = $2) or ($1 = 'type' and type = $2))
group by queue, type having sum(n) > 0`;

/** Waiting claims of the scope's queues and types try again: a resume or a new limit may let work through. */
export async function wakeScope(tx: Queryable, p: FlowTarget): Promise<void> {
  const res = await tx.query<{ queue: string; type: string; count: number }>(RUNNABLE_IN_SCOPE, [
    p.scope,
    p.name,
  ]);
  await notifyCounts(tx, res.rows);
}
