import { ValidationError } from '../../core/errors.js';
import type { Queryable } from '../db.js';
import type { ListTasksParams, Page, Task, TaskEvent, TaskFilter } from '../types.js';
import {
  decodeCursor,
  type EventRow,
  encodeCursor,
  rowToEvent,
  rowToTask,
  TASK_COLUMNS,
  type TaskRow,
} from './rows.js';

export const MAX_PAGE_SIZE = 1000;

/** The task filter as fixed, parameterised predicates ($1..$11); absent filters are null. */
export const TASK_FILTER = `
  ($1::text[] is null or t.status = any($1::text[]))
  and ($2::text[] is null or t.type = any($2::text[]))
  and ($3::text[] is null or t.queue = any($3::text[]))
  and ($4::text is null or t.session_id = $4)
  and ($5::text is null or t.key = $5)
  and ($6::text is null or t.user_id = $6)
  and ($7::text is null or t.worker_id = $7)
  and ($8::timestamptz is null or t.created_at >= $8)
  and ($9::timestamptz is null or t.created_at < $9)
  and ($10::text is null or strpos(lower(t.error ->> 'message'), lower($10)) > 0)
  and ($11::text[] is null or t.id = any($11::text[]))`;

function list<T>(v: T | T[] | undefined): T[] | null {
  if (v === undefined) return null;
  return Array.isArray(v) ? v : [v];
}

export function filterParams(f: TaskFilter): unknown[] {
  return [
    list(f.status),
    list(f.type),
    list(f.queue),
    f.sessionId ?? null,
    f.key ?? null,
    f.userId ?? null,
    f.workerId ?? null,
    f.createdAfter ?? null,
    f.createdBefore ?? null,
    f.errorContains ?? null,
    f.ids ?? null,
  ];
}

export const SELECT_FILTERED_IDS = `select t.id, t.queue from tasks t where ${TASK_FILTER}`;

// Three fixed orders: newest first, oldest first, and a session's tasks by index.
const LIST_DESC = `select ${TASK_COLUMNS} from tasks t where ${TASK_FILTER}
  and ($12::bigint is null or t.seq < $12) order by t.seq desc limit $13`;
const LIST_ASC = `select ${TASK_COLUMNS} from tasks t where ${TASK_FILTER}
  and ($12::bigint is null or t.seq > $12) order by t.seq asc limit $13`;
const LIST_BY_INDEX = `select ${TASK_COLUMNS} from tasks t where ${TASK_FILTER}
  and ($12::bigint is null or t.session_index > $12) order by t.session_index asc limit $13`;

const COUNT = `select t.status, count(*)::int as n from tasks t where ${TASK_FILTER} group by t.status`;

export async function getTaskRow(db: Queryable, id: string): Promise<Task | null> {
  const res = await db.query<TaskRow>(`select ${TASK_COLUMNS} from tasks t where t.id = $1`, [id]);
  return res.rows[0] ? rowToTask(res.rows[0]) : null;
}

export async function listTasks(db: Queryable, p: ListTasksParams): Promise<Page<Task>> {
  const limit = p.limit ?? 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
    throw new ValidationError(`limit must be an integer from 1 to ${MAX_PAGE_SIZE}`, { field: 'limit' });
  }
  let after: number | null = null;
  if (p.cursor) {
    try {
      after = decodeCursor(p.cursor);
    } catch {
      throw new ValidationError('cursor is not one this server returned; pass nextCursor unchanged', {
        field: 'cursor',
      });
    }
  }
  const byIndex = p.sessionId !== undefined && p.order === undefined;
  const sql = byIndex ? LIST_BY_INDEX : p.order === 'asc' ? LIST_ASC : LIST_DESC;
  const res = await db.query<TaskRow>(sql, [...filterParams(p), after, limit + 1]);
  const items = res.rows.slice(0, limit).map(rowToTask);
  const last = items[items.length - 1];
  const more = res.rows.length > limit && last;
  return {
    items,
    nextCursor: more ? encodeCursor(byIndex ? (last.sessionIndex ?? 0) : last.seq) : null,
  };
}

export async function countTasks(db: Queryable, f: TaskFilter): Promise<Record<string, number>> {
  const res = await db.query<{ status: string; n: number }>(COUNT, filterParams(f));
  const out: Record<string, number> = {
    queued: 0,
    running: 0,
    retrying: 0,
    completed: 0,
    failed: 0,
    cancelled: 0,
    total: 0,
  };
  for (const r of res.rows) {
    out[r.status] = r.n;
    out.total = (out.total ?? 0) + r.n;
  }
  return out;
}

export async function getTaskEvents(
  db: Queryable,
  taskId: string,
  p: { limit?: number; afterId?: number } = {},
): Promise<TaskEvent[]> {
  const res = await db.query<EventRow>(
    `select id, task_id, attempt, kind, at, worker_id, data from task_events
     where task_id = $1 and id > $2 order by id limit $3`,
    [taskId, p.afterId ?? 0, Math.min(p.limit ?? 500, 5000)],
  );
  return res.rows.map(rowToEvent);
}

export interface ThroughputPoint {
  /** Start of the minute, ISO 8601. */
  at: string;
  completed: number;
  failed: number;
}

/**
 * Tasks that finished completed or failed, per minute, over the last `minutes`
 * minutes, read from the tasks themselves (index on finished_at), so every server
 * node answers the same and history survives restarts.
 */
export async function throughput(
  db: Queryable,
  minutes: number,
  now: Date | null,
): Promise<ThroughputPoint[]> {
  const res = await db.query<{ minute: Date; completed: number; failed: number; now: Date }>(
    `select date_trunc('minute', t.finished_at) as minute,
       count(*) filter (where t.status = 'completed')::int as completed,
       count(*) filter (where t.status = 'failed')::int as failed
     from tasks t
     where t.finished_at >= date_trunc('minute', coalesce($1::timestamptz, now())) - make_interval(mins => $2::int - 1)
       and t.status in ('completed', 'failed')
     group by 1`,
    [now, minutes],
  );
  const byMinute = new Map(res.rows.map((r) => [new Date(r.minute).getTime(), r]));
  const current = Math.floor((now ?? new Date()).getTime() / 60_000) * 60_000;
  const points: ThroughputPoint[] = [];
  for (let i = minutes - 1; i >= 0; i--) {
    const at = current - i * 60_000;
    const r = byMinute.get(at);
    points.push({ at: new Date(at).toISOString(), completed: r?.completed ?? 0, failed: r?.failed ?? 0 });
  }
  return points;
}
