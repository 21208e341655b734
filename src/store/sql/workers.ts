import { GafferError, NotFoundError, ValidationError } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import type { Queryable } from '../db.js';
import type {
  HeartbeatParams,
  HeartbeatResult,
  Json,
  RegisterWorkerParams,
  Task,
  Worker,
  WorkerEvent,
} from '../types.js';
import { endFailedAttempt } from './attempts.js';
import { eventSink } from './events.js';
import {
  rowToTask,
  rowToWorker,
  rowToWorkerEvent,
  TASK_COLUMNS,
  type TaskRow,
  WORKER_COLUMNS,
  type WorkerClock,
  type WorkerRow,
} from './rows.js';
import { RUNNING_TASKS } from './running.js';
import { checkName } from './validate.js';

const MARK_STALE = `
update workers w set stale_at = coalesce($2::timestamptz, now()), stale_reason = $3
where w.id = any($1::text[]) and w.stale_at is null
returning w.id`;

const REPLACED_WORKERS = `
select w.id, w.token_id from workers w where w.machine_id = $1 and w.name = $2 and w.stale_at is null for update`;

const INSERT_WORKER = `
insert into workers as w (id, name, machine_id, hostname, pid, version, types, queues, concurrency, labels,
  token_id)
values ($1, $2, $3, $4, $5, $6, $7::text[], $8::text[], $9, $10::jsonb, $11)
returning ${WORKER_COLUMNS}`;

const WORKER_EVENT = `insert into worker_events (worker_id, kind, data) values ($1, $2, $3::jsonb)`;

/** The running tasks of workers: the tasks of their claims that still run under them. */
const RUNNING_OF_WORKERS = `
select ${TASK_COLUMNS} from ${RUNNING_TASKS} where c.worker_id = any($1::text[]) for update of t`;

/** Ends the running attempts of workers that went away: their leases lapse now. */
export async function lapseLeasesOf(tx: Queryable, workerIds: string[], reason: string): Promise<Task[]> {
  if (workerIds.length === 0) return [];
  const res = await tx.query<TaskRow>(RUNNING_OF_WORKERS, [workerIds]);
  const out: Task[] = [];
  for (const row of res.rows) {
    out.push(await endFailedAttempt(tx, rowToTask(row), 'lost', { message: reason, retryable: true }, null));
  }
  return out;
}

export async function markStale(
  tx: Queryable,
  ids: string[],
  reason: string,
  now: Date | null,
): Promise<string[]> {
  if (ids.length === 0) return [];
  const res = await tx.query<{ id: string }>(MARK_STALE, [ids, now, reason]);
  const marked = res.rows.map((r) => r.id);
  for (const id of marked) await tx.query(WORKER_EVENT, [id, 'stale', JSON.stringify({ reason })]);
  return marked;
}

export async function registerWorker(
  tx: Queryable,
  p: RegisterWorkerParams,
): Promise<Worker & { replaced: string[] }> {
  if (typeof p.machineId !== 'string' || p.machineId.length === 0 || p.machineId.length > 255) {
    throw new ValidationError('machineId must be a non-empty string of at most 255 characters', {
      field: 'machineId',
    });
  }
  for (const [i, t] of (p.types ?? []).entries()) checkName(t, '', `types[${i}]`);
  for (const [i, q] of (p.queues ?? []).entries()) checkName(q, '', `queues[${i}]`);
  const concurrency = p.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 10_000) {
    throw new ValidationError('concurrency must be an integer from 1 to 10000', { field: 'concurrency' });
  }
  const id = newId();
  let replaced: string[] = [];
  if (p.name) {
    const earlier = await tx.query<{ id: string; token_id: string | null }>(REPLACED_WORKERS, [
      p.machineId,
      p.name,
    ]);
    // Only the token that registered a live worker (or an admin) may replace it: another worker
    // token taking over the slot would spend the attempts of the tasks that worker holds.
    const foreign = p.owner?.admin
      ? []
      : earlier.rows.filter((r) => r.token_id !== (p.owner?.tokenId ?? null));
    if (p.owner && foreign.length > 0) {
      throw new GafferError(
        'forbidden',
        `machine ${JSON.stringify(p.machineId)} slot ${JSON.stringify(p.name)} is held by live worker ${foreign[0]!.id}, registered with another token; only that token or an admin token may replace it (or wait until it goes stale)`,
        { workerId: foreign[0]!.id, field: 'name' },
      );
    }
    const ids = earlier.rows.map((r) => r.id);
    replaced = await markStale(tx, ids, `replaced by worker ${id} on the same machine and slot`, null);
    await lapseLeasesOf(tx, replaced, `worker was replaced by ${id}`);
  }
  const res = await tx.query<WorkerRow>(INSERT_WORKER, [
    id,
    p.name ?? null,
    p.machineId,
    p.hostname ?? null,
    p.pid ?? null,
    p.version ?? null,
    p.types ?? [],
    p.queues ?? [],
    concurrency,
    JSON.stringify(p.labels ?? {}),
    p.owner?.tokenId ?? null,
  ]);
  await tx.query(WORKER_EVENT, [id, 'registered', JSON.stringify({ replaced })]);
  const sink = eventSink(tx);
  if (sink) {
    for (const r of replaced)
      sink.push({ event: 'worker_stale', workerId: r, reason: `replaced by worker ${id}` });
    sink.push({
      event: 'worker_registered',
      workerId: id,
      machineId: p.machineId,
      name: p.name ?? null,
      types: p.types ?? [],
      replaced,
    });
  }
  return {
    ...rowToWorker(res.rows[0]!, {
      staleAfterMs: Number.POSITIVE_INFINITY,
      leaseMs: Number.POSITIVE_INFINITY,
    }),
    replaced,
  };
}

export async function heartbeat(
  db: Queryable,
  p: HeartbeatParams,
  leaseMs: number,
  staleAfterMs: number,
): Promise<HeartbeatResult> {
  return (await heartbeats(db, [p], leaseMs, staleAfterMs))[0]!;
}

/**
 * Many workers' heartbeats in one statement (the server group-commits them): the
 * same rules as HEARTBEAT, for every worker of the batch at once.
 */
/**
 * Many workers' heartbeats in one statement (the server group-commits them). A worker that names
 * the attempts it holds renews only those (found by id); one that names none renews all its running
 * tasks (found through its claims). The answer: which workers are live, which attempts were extended
 * (and of those, which are to be cancelled), and which named attempts the worker no longer holds.
 * A lease extension lost in a database crash only shortens a lease, so the statement commits
 * asynchronously (as claims do): a heartbeat never waits for a WAL flush.
 */
const HEARTBEATS = `
with input as (
  select i.*, set_config('synchronous_commit', 'off', true) as async_commit
  from unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::boolean[], $11::text[])
    as i(worker_id, state, stats, lease_ms, named, liveness)
),
w as (
  update workers w set last_heartbeat_at = coalesce($9::timestamptz, now()),
    state = coalesce(i.state::jsonb, w.state), stats = coalesce(i.stats::jsonb, w.stats),
    liveness = coalesce(i.liveness::jsonb, w.liveness)
  from input i
  where w.id = i.worker_id and w.stale_at is null
    and w.last_heartbeat_at > coalesce($9::timestamptz, now()) - make_interval(secs => $10::int / 1000.0)
  returning w.id
),
held as (select * from unnest($6::text[], $7::text[], $8::int[]) as h(worker_id, id, attempt)),
candidates as (
  select t.seq from held h join tasks t on t.id = h.id
  union all
  select t.seq from ${RUNNING_TASKS} join input i on i.worker_id = c.worker_id where not i.named
),
ext as (
  update tasks t set lease_expires_at = coalesce($9::timestamptz, now()) + make_interval(secs => i.lease_ms / 1000.0)
  from input i
  where t.seq = any(array(select seq from candidates)) and t.worker_id = i.worker_id and t.status = 'running'
    and i.worker_id in (select id from w)
    and (not i.named or exists (select 1 from held h where h.worker_id = i.worker_id and h.id = t.id))
  returning t.id, t.attempt, t.worker_id, t.cancel_requested
)
select 'live' as kind, w.id as worker_id, null::text as task_id, null::int as attempt from w
union all select case when ext.cancel_requested then 'cancelled' else 'extended' end, ext.worker_id, ext.id, ext.attempt from ext
union all select 'lost', h.worker_id, h.id, h.attempt from held h
  where not exists (select 1 from ext where ext.id = h.id and ext.attempt = h.attempt)`;

export async function heartbeats(
  db: Queryable,
  list: HeartbeatParams[],
  leaseMs: number,
  staleAfterMs: number,
): Promise<HeartbeatResult[]> {
  if (list.length === 0) return [];
  const now = list[0]!.now ?? null;
  // One statement has one clock; calls that bring their own (tests) go one by one.
  if (list.some((p) => (p.now ?? null)?.getTime() !== now?.getTime())) {
    return Promise.all(list.map((p) => heartbeat(db, p, leaseMs, staleAfterMs)));
  }
  const heldOf = list.flatMap((p) => (p.held ?? []).map((h) => [p.workerId, h.taskId, h.attempt] as const));
  const res = await db.query<{
    kind: string;
    worker_id: string;
    task_id: string | null;
    attempt: number | null;
  }>(HEARTBEATS, [
    list.map((p) => p.workerId),
    list.map((p) => (p.state === undefined ? null : JSON.stringify(p.state))),
    list.map((p) => (p.stats === undefined ? null : JSON.stringify(p.stats))),
    list.map((p) => p.leaseMs ?? leaseMs),
    list.map((p) => p.held !== undefined),
    heldOf.map((h) => h[0]),
    heldOf.map((h) => h[1]),
    heldOf.map((h) => h[2]),
    now,
    staleAfterMs,
    list.map((p) => (p.liveness === undefined ? null : JSON.stringify(p.liveness))),
  ]);
  const out = new Map<string, HeartbeatResult>();
  for (const p of list) out.set(p.workerId, { live: false, extended: 0, cancelled: [], lost: [] });
  for (const r of res.rows) {
    const o = out.get(r.worker_id);
    if (!o) continue;
    if (r.kind === 'live') o.live = true;
    else {
      const ref = { taskId: r.task_id!, attempt: r.attempt! };
      if (r.kind === 'lost') o.lost.push(ref);
      else {
        o.extended++;
        if (r.kind === 'cancelled') o.cancelled.push(ref);
      }
    }
  }
  // A worker that is not live holds nothing: every attempt it names is lost.
  return list.map((p) => {
    const o = out.get(p.workerId)!;
    return o.live ? o : { ...o, extended: 0, cancelled: [], lost: p.held ?? [] };
  });
}

export async function getWorker(db: Queryable, id: string, clock: WorkerClock): Promise<Worker> {
  const res = await db.query<WorkerRow>(`select ${WORKER_COLUMNS} from workers w where w.id = $1`, [id]);
  if (!res.rows[0]) throw new NotFoundError('worker', id);
  return rowToWorker(res.rows[0], clock);
}

export async function setWorkerState(db: Queryable, workerId: string, state: Json): Promise<void> {
  const res = await db.query(
    `with upd as (update workers set state = $2::jsonb where id = $1 returning id)
     insert into worker_events (worker_id, kind, data) select id, 'state', $2::jsonb from upd returning id`,
    [workerId, JSON.stringify(state)],
  );
  if (res.rows.length === 0) throw new NotFoundError('worker', workerId);
}

export async function recordWorkerEvent(
  db: Queryable,
  workerId: string,
  kind: string,
  data: Json,
): Promise<void> {
  const res = await db.query(
    `insert into worker_events (worker_id, kind, data) select id, $2, $3::jsonb from workers where id = $1 returning id`,
    [workerId, kind, JSON.stringify(data)],
  );
  if (res.rows.length === 0) throw new NotFoundError('worker', workerId);
}

export async function getWorkerEvents(
  db: Queryable,
  workerId: string,
  limit: number,
): Promise<WorkerEvent[]> {
  const res = await db.query<Parameters<typeof rowToWorkerEvent>[0]>(
    `select id, worker_id, kind, at, data from worker_events where worker_id = $1 order by id desc limit $2`,
    [workerId, Math.min(limit, 1000)],
  );
  return res.rows.map(rowToWorkerEvent);
}

export { WORKER_EVENT };
