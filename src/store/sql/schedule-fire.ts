import { NotFoundError } from '../../core/errors.js';
import { dueTicks, nextTickAfter } from '../../core/schedule-times.js';
import type { Queryable } from '../db.js';
import type * as S from '../schedule-types.js';
import type { StoreOptions } from '../store.js';
import type { Json, NewTask } from '../types.js';
import { insertTasks } from './create.js';
import {
  checkUpsert,
  dbNow,
  lockSchedule,
  recordScheduleEvent,
  rowToSchedule,
  SCHEDULE_COLUMNS,
  type ScheduleRow,
  timingOf,
} from './schedules.js';

/** The idempotency key of a tick's task: the same on every server, so a tick creates one task. */
export function tickKey(name: string, tick: Date): string {
  return `schedule:${name}:${tick.toISOString()}`;
}

/** On-time ticks a round fires at most per schedule (an interval far below the poll, or a long pause of the loop). */
const MAX_ON_TIME = 1000;

/** Creates or changes a schedule by name; a change of its timing starts it afresh from now. */
export async function upsertSchedule(
  tx: Queryable,
  p: S.UpsertScheduleParams,
): Promise<S.UpsertScheduleResult> {
  checkUpsert(p);
  const now = await dbNow(tx, p.now);
  const before = await lockSchedule(tx, p.name);
  const timezone = p.timezone ?? 'UTC';
  const cron = p.cron ?? null;
  const everyMs = p.everyMs ?? null;
  const retimed =
    !before ||
    before.cron !== cron ||
    (before.every_ms === null ? null : Number(before.every_ms)) !== everyMs ||
    before.timezone !== timezone;
  const paused = p.paused ?? before?.paused ?? false;
  const resumed = before?.paused === true && !paused;
  const anchorAt = retimed ? now : new Date(before!.anchor_at);
  const nextRunAt =
    retimed || resumed ? nextTickAfter({ cron, everyMs, timezone, anchorAt }, now) : before!.next_run_at;
  const res = await tx.query<ScheduleRow>(
    `insert into schedules as s (name, cron, every_ms, timezone, anchor_at, type, payload, task_options, catch_up,
       catch_up_limit, paused, next_run_at, created_at, updated_at)
     values ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9, $10, $11, $12, $13, $13)
     on conflict (name) do update set cron = $2, every_ms = $3, timezone = $4, anchor_at = $5, type = $6,
       payload = $7::jsonb, task_options = $8::jsonb, catch_up = $9, catch_up_limit = $10, paused = $11,
       next_run_at = $12, updated_at = $13
     returning ${SCHEDULE_COLUMNS}`,
    [
      p.name,
      cron,
      everyMs,
      timezone,
      anchorAt,
      p.type,
      JSON.stringify(p.payload ?? null),
      JSON.stringify(p.task ?? {}),
      p.catchUp ?? 'skip',
      p.catchUpLimit ?? 10,
      paused,
      nextRunAt,
      now,
    ],
  );
  const row = res.rows[0]!;
  const kind = !before ? 'created' : 'updated';
  await recordScheduleEvent(
    tx,
    p.name,
    kind,
    { cron, everyMs, timezone, type: p.type, paused, retimed },
    now,
  );
  if (before && before.paused !== paused)
    await recordScheduleEvent(tx, p.name, paused ? 'paused' : 'resumed', {}, now);
  return { schedule: rowToSchedule(row), created: !before };
}

/**
 * Pauses or resumes. A resumed schedule runs from its next tick after now: the ticks of the pause
 * were not missed by a downtime, so no catch-up policy applies to them.
 */
export async function setSchedulePaused(
  tx: Queryable,
  name: string,
  paused: boolean,
  at?: Date,
): Promise<S.Schedule> {
  const now = await dbNow(tx, at);
  const row = await lockSchedule(tx, name);
  if (!row) throw new NotFoundError('schedule', name);
  if (row.paused === paused) return rowToSchedule(row);
  const next = paused ? row.next_run_at : nextTickAfter(timingOf(row), now);
  const res = await tx.query<ScheduleRow>(
    `update schedules set paused = $2, next_run_at = $3, updated_at = $4 where name = $1
     returning ${SCHEDULE_COLUMNS}`,
    [name, paused, next, now],
  );
  await recordScheduleEvent(tx, name, paused ? 'paused' : 'resumed', {}, now);
  return rowToSchedule(res.rows[0]!);
}

/**
 * Fires one locked, due schedule: a task per tick to run (the on-time ones, and the missed ones its
 * catch-up policy keeps), each keyed by its tick, then moves next_run_at past now. All in the
 * caller's transaction, so the ticks and the schedule's advance commit together.
 */
export async function fireSchedule(
  tx: Queryable,
  row: ScheduleRow,
  now: Date,
  graceMs: number,
  options: StoreOptions,
): Promise<S.FiredSchedule> {
  const timing = timingOf(row);
  const keep = row.catch_up === 'run' ? row.catch_up_limit : 0;
  const due = dueTicks(timing, new Date(row.next_run_at!), now, graceMs, keep);
  const ticks = [...due.missed, ...due.onTime.slice(-MAX_ON_TIME)];
  const skipped = due.missedCount - due.missed.length + Math.max(0, due.onTime.length - MAX_ON_TIME);
  const opts = row.task_options ?? {};
  const tasks: NewTask[] = ticks.map((tick) => ({
    ...opts,
    type: row.type,
    payload: row.payload,
    idempotencyKey: tickKey(row.name, tick),
    metadata: { ...(opts.metadata ?? {}), schedule: row.name, scheduledFor: tick.toISOString() } as Record<
      string,
      Json
    >,
  }));
  const created: { tick: Date; taskId: string }[] = [];
  let existing = 0;
  let lastTaskId = row.last_task_id;
  if (tasks.length > 0) {
    const out = await insertTasks(tx, tasks, { options, retry: false, by: `schedule:${row.name}` });
    out.outcomes.forEach((o, i) => {
      if (o === 'created') created.push({ tick: ticks[i]!, taskId: out.tasks[i]!.id });
      else existing++;
    });
    lastTaskId = out.tasks[out.tasks.length - 1]!.id;
  }
  const next = nextTickAfter(timing, now);
  await tx.query(
    `update schedules set next_run_at = $2, last_tick_at = coalesce($3, last_tick_at), last_task_id = $4,
       runs = runs + $5, skipped = skipped + $6
     where name = $1`,
    [row.name, next, ticks.at(-1) ?? null, lastTaskId, created.length, skipped],
  );
  if (due.missed.length > 0) {
    await recordScheduleEvent(
      tx,
      row.name,
      'caught_up',
      { ticks: due.missed.length, from: due.missed[0]!.toISOString(), to: due.missed.at(-1)!.toISOString() },
      now,
    );
  }
  if (skipped > 0) {
    await recordScheduleEvent(
      tx,
      row.name,
      'skipped',
      { ticks: skipped, since: new Date(row.next_run_at!).toISOString() },
      now,
    );
  }
  return { name: row.name, created, existing, skipped, nextRunAt: next };
}
