import { ValidationError } from '../../core/errors.js';
import { checkJson } from '../../core/json-limits.js';
import { checkTiming, type ScheduleTiming, upcomingTicks } from '../../core/schedule-times.js';
import type { Queryable } from '../db.js';
import type * as S from '../schedule-types.js';
import type { Json, Page } from '../types.js';
import { checkName, checkNewTask } from './validate.js';

export const SCHEDULE_COLUMNS = `name, cron, every_ms, timezone, anchor_at, type, payload, task_options, catch_up,
  catch_up_limit, paused, next_run_at, last_tick_at, last_task_id, runs, skipped, created_at, updated_at`;

export interface ScheduleRow {
  name: string;
  cron: string | null;
  every_ms: number | string | null;
  timezone: string;
  anchor_at: Date;
  type: string;
  payload: Json;
  task_options: S.ScheduleTaskOptions | null;
  catch_up: S.CatchUpPolicy;
  catch_up_limit: number;
  paused: boolean;
  next_run_at: Date | null;
  last_tick_at: Date | null;
  last_task_id: string | null;
  runs: number | string;
  skipped: number | string;
  created_at: Date;
  updated_at: Date;
}

/** How many upcoming ticks a schedule shows. */
const UPCOMING = 5;

export function timingOf(r: ScheduleRow): ScheduleTiming {
  return {
    cron: r.cron,
    everyMs: r.every_ms === null ? null : Number(r.every_ms),
    timezone: r.timezone,
    anchorAt: new Date(r.anchor_at),
  };
}

export function rowToSchedule(r: ScheduleRow): S.Schedule {
  const next = r.next_run_at ? new Date(r.next_run_at) : null;
  const upcoming = next && !r.paused ? [next, ...upcomingTicks(timingOf(r), next, UPCOMING - 1)] : [];
  return {
    name: r.name,
    cron: r.cron,
    everyMs: r.every_ms === null ? null : Number(r.every_ms),
    timezone: r.timezone,
    type: r.type,
    payload: r.payload,
    task: r.task_options ?? {},
    catchUp: r.catch_up,
    catchUpLimit: r.catch_up_limit,
    paused: r.paused,
    nextRunAt: next,
    upcoming,
    lastTickAt: r.last_tick_at ? new Date(r.last_tick_at) : null,
    lastTaskId: r.last_task_id,
    runs: Number(r.runs),
    skipped: Number(r.skipped),
    anchorAt: new Date(r.anchor_at),
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
  };
}

const TASK_OPTION_KEYS = new Set([
  'queue',
  'priority',
  'maxAttempts',
  'timeoutMs',
  'backoff',
  'metadata',
  'key',
  'userId',
]);

/** Every problem of an upsert's fields, the timing's included, as one ValidationError. */
export function checkUpsert(p: S.UpsertScheduleParams): void {
  const errors: { field: string; message: string }[] = [];
  const collect = (fn: () => void) => {
    try {
      fn();
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      const list = err.details?.errors as { field: string; message: string }[] | undefined;
      if (list) errors.push(...list);
      else {
        const field = String(err.details?.field ?? '');
        errors.push({
          field,
          message: err.message.startsWith(`${field} `) ? err.message.slice(field.length + 1) : err.message,
        });
      }
    }
  };
  collect(() => checkName(p.name, '', 'name'));
  collect(() => checkName(p.type, '', 'type'));
  collect(() => checkTiming({ cron: p.cron, everyMs: p.everyMs, timezone: p.timezone }));
  if (p.payload !== undefined) collect(() => checkJson(p.payload, 'payload'));
  const task = p.task ?? {};
  if (typeof task !== 'object' || task === null || Array.isArray(task)) {
    errors.push({ field: 'task', message: 'must be an object' });
  } else {
    for (const k of Object.keys(task)) {
      if (!TASK_OPTION_KEYS.has(k))
        errors.push({ field: `task.${k}`, message: 'is not a task option of a schedule' });
    }
    collect(() => checkNewTask({ ...task, type: 'x' }, 'task.'));
  }
  if (p.catchUp !== undefined && p.catchUp !== 'skip' && p.catchUp !== 'run') {
    errors.push({ field: 'catchUp', message: 'must be skip or run' });
  }
  const limit = p.catchUpLimit;
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > 1000)) {
    errors.push({ field: 'catchUpLimit', message: 'must be an integer from 1 to 1000' });
  }
  if (errors.length === 0) return;
  const detail = errors.map((e) => `${e.field} ${e.message}`).join('; ');
  throw new ValidationError(errors.length === 1 ? detail : `${errors.length} fields are invalid: ${detail}`, {
    field: errors[0]!.field,
    errors,
  });
}

export async function dbNow(q: Queryable, now: Date | undefined): Promise<Date> {
  if (now) return now;
  const res = await q.query<{ now: Date }>('select now() as now');
  return new Date(res.rows[0]!.now);
}

export async function lockSchedule(q: Queryable, name: string): Promise<ScheduleRow | null> {
  const res = await q.query<ScheduleRow>(
    `select ${SCHEDULE_COLUMNS} from schedules where name = $1 for update`,
    [name],
  );
  return res.rows[0] ?? null;
}

export async function getSchedule(q: Queryable, name: string): Promise<ScheduleRow | null> {
  const res = await q.query<ScheduleRow>(`select ${SCHEDULE_COLUMNS} from schedules where name = $1`, [name]);
  return res.rows[0] ?? null;
}

export async function listSchedules(
  q: Queryable,
  p: { limit?: number; cursor?: string; paused?: boolean },
): Promise<Page<S.Schedule>> {
  const limit = Math.min(Math.max(Math.trunc(p.limit ?? 100), 1), 1000);
  const res = await q.query<ScheduleRow>(
    `select ${SCHEDULE_COLUMNS} from schedules
     where ($1::text is null or name > $1) and ($2::boolean is null or paused = $2)
     order by name limit $3`,
    [p.cursor ?? null, p.paused ?? null, limit + 1],
  );
  const rows = res.rows.slice(0, limit);
  return {
    items: rows.map(rowToSchedule),
    nextCursor: res.rows.length > limit ? rows[rows.length - 1]!.name : null,
  };
}

export async function recordScheduleEvent(
  q: Queryable,
  name: string,
  kind: S.ScheduleEvent['kind'],
  data: Record<string, Json>,
  at: Date,
): Promise<void> {
  await q.query('insert into schedule_events (schedule, kind, data, at) values ($1, $2, $3::jsonb, $4)', [
    name,
    kind,
    JSON.stringify(data),
    at,
  ]);
}

export async function getScheduleEvents(
  q: Queryable,
  name: string,
  limit: number,
): Promise<S.ScheduleEvent[]> {
  const res = await q.query<{
    id: number | string;
    schedule: string;
    kind: S.ScheduleEvent['kind'];
    data: Record<string, Json>;
    at: Date;
  }>(
    'select id, schedule, kind, data, at from schedule_events where schedule = $1 order by id desc limit $2',
    [name, Math.min(Math.max(Math.trunc(limit), 1), 1000)],
  );
  return res.rows.map((r) => ({ ...r, id: Number(r.id), at: new Date(r.at) }));
}

/** The earliest next run of an active schedule: when a scheduler should look again. */
export async function nextDueAt(q: Queryable): Promise<Date | null> {
  const res = await q.query<{ at: Date | null }>(
    'select min(next_run_at) as at from schedules where not paused and next_run_at is not null',
  );
  const at = res.rows[0]?.at;
  return at ? new Date(at) : null;
}

/** Names of active schedules due at `now`, earliest first (read without locks; each is then locked alone). */
export async function dueScheduleNames(q: Queryable, now: Date, limit: number): Promise<string[]> {
  const res = await q.query<{ name: string }>(
    `select name from schedules where not paused and next_run_at is not null and next_run_at <= $1
     order by next_run_at limit $2`,
    [now, limit],
  );
  return res.rows.map((r) => r.name);
}

/** Locks one due schedule, skipping it when another server holds it (that server fires it). */
export async function lockDueSchedule(q: Queryable, name: string, now: Date): Promise<ScheduleRow | null> {
  const res = await q.query<ScheduleRow>(
    `select ${SCHEDULE_COLUMNS} from schedules
     where name = $1 and not paused and next_run_at is not null and next_run_at <= $2
     for update skip locked`,
    [name, now],
  );
  return res.rows[0] ?? null;
}
