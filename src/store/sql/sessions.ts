import { NotFoundError, ValidationError } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import { deriveSessionStatus, type SessionStatus, type TaskStatus } from '../../core/states.js';
import type { Queryable } from '../db.js';
import type { Json, Page, Session, SessionEntry } from '../types.js';
import { decodeCursor, encodeCursor } from './rows.js';
import { checkId } from './validate.js';

/** A session row with its per-status task counts. */
const SESSION_WITH_COUNTS = `
select s.id, s.seq, s.key, s.user_id, s.metadata, s.task_count, s.created_at, s.updated_at,
  c.waiting, c.queued, c.running, c.retrying, c.completed, c.failed, c.cancelled, c.last_change
from sessions s
cross join lateral (
  select count(*) filter (where t.status = 'waiting')::int as waiting,
    count(*) filter (where t.status = 'queued')::int as queued,
    count(*) filter (where t.status = 'running')::int as running,
    count(*) filter (where t.status = 'retrying')::int as retrying,
    count(*) filter (where t.status = 'completed')::int as completed,
    count(*) filter (where t.status = 'failed')::int as failed,
    count(*) filter (where t.status = 'cancelled')::int as cancelled,
    max(t.updated_at) as last_change
  from tasks t where t.session_id = s.id
) c`;

/** Session status in SQL, the same rule as deriveSessionStatus. */
const statusOf = (
  a: string,
) => `case when ${a}.waiting + ${a}.queued + ${a}.running + ${a}.retrying > 0 then 'active'
  when ${a}.failed > 0 then 'failed' when ${a}.cancelled > 0 then 'cancelled' else 'completed' end`;

const LIST_SESSIONS = `
select * from (${SESSION_WITH_COUNTS}
  where ($1::text is null or s.key = $1) and ($2::text is null or s.user_id = $2)
    and ($3::bigint is null or s.seq < $3)
) x where ($4::text is null or ${statusOf('x')} = $4)
order by x.seq desc limit $5`;

interface SessionRow {
  id: string;
  seq: number | string;
  key: string | null;
  user_id: string | null;
  metadata: Record<string, Json> | null;
  task_count: number;
  created_at: Date;
  updated_at: Date;
  last_change: Date | null;
  waiting: number;
  queued: number;
  running: number;
  retrying: number;
  completed: number;
  failed: number;
  cancelled: number;
}

function rowToSession(r: SessionRow): Session {
  const counts: Record<TaskStatus, number> = {
    waiting: r.waiting,
    queued: r.queued,
    running: r.running,
    retrying: r.retrying,
    completed: r.completed,
    failed: r.failed,
    cancelled: r.cancelled,
  };
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const finished = r.completed + r.failed + r.cancelled;
  const updated = r.last_change && r.last_change > r.updated_at ? r.last_change : r.updated_at;
  return {
    id: r.id,
    key: r.key,
    userId: r.user_id,
    metadata: r.metadata ?? {},
    status: deriveSessionStatus(counts),
    taskCount: total,
    counts,
    progress: total === 0 ? 1 : finished / total,
    createdAt: new Date(r.created_at),
    updatedAt: new Date(updated),
  };
}

export async function insertSession(
  tx: Queryable,
  p: { id?: string; key?: string; userId?: string; metadata?: Record<string, Json>; taskCount: number },
): Promise<{ id: string; created: boolean; startIndex: number }> {
  checkId(p.id, '', 'id');
  if (p.key !== undefined && (typeof p.key !== 'string' || p.key.length === 0 || p.key.length > 255)) {
    throw new ValidationError('key must be a non-empty string of at most 255 characters', { field: 'key' });
  }
  const id = p.id ?? newId();
  const res = await tx.query(
    `insert into sessions (id, key, user_id, metadata, task_count) values ($1, $2, $3, $4::jsonb, $5)
     on conflict (id) do nothing returning id`,
    [id, p.key ?? null, p.userId ?? null, JSON.stringify(p.metadata ?? {}), p.taskCount],
  );
  if (res.rows.length > 0) return { id, created: true, startIndex: 0 };
  // A re-send: lock the session so two re-sends of it do not interleave.
  await tx.query('select id from sessions where id = $1 for update', [id]);
  await tx.query(
    'update sessions set task_count = greatest(task_count, $2), updated_at = now() where id = $1',
    [id, p.taskCount],
  );
  return { id, created: false, startIndex: 0 };
}

export async function getSession(db: Queryable, id: string): Promise<Session> {
  const res = await db.query<SessionRow>(`${SESSION_WITH_COUNTS} where s.id = $1`, [id]);
  if (!res.rows[0]) throw new NotFoundError('session', id);
  return rowToSession(res.rows[0]);
}

export async function listSessions(
  db: Queryable,
  p: { key?: string; userId?: string; status?: SessionStatus; limit?: number; cursor?: string },
): Promise<Page<Session>> {
  const limit = p.limit ?? 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new ValidationError('limit must be an integer from 1 to 1000', { field: 'limit' });
  }
  let before: number | null = null;
  if (p.cursor) {
    try {
      before = decodeCursor(p.cursor);
    } catch {
      throw new ValidationError('cursor is not one this server returned; pass nextCursor unchanged', {
        field: 'cursor',
      });
    }
  }
  const res = await db.query<SessionRow>(LIST_SESSIONS, [
    p.key ?? null,
    p.userId ?? null,
    before,
    p.status ?? null,
    limit + 1,
  ]);
  const rows = res.rows.slice(0, limit);
  const last = rows[rows.length - 1];
  return {
    items: rows.map(rowToSession),
    nextCursor: res.rows.length > limit && last ? encodeCursor(Number(last.seq)) : null,
  };
}

/** An open entry: a keyed task of a tracked type that is unfinished, or held and not yet released. */
const OPEN_ENTRY = `t.key is not null and t.tracking <> 'none' and t.entry_released_at is null
  and (t.tracking = 'hold' or t.status in ('waiting', 'queued', 'running', 'retrying'))`;

const ENTRY_COLUMNS = `t.key, t.type, t.id, t.user_id, t.status, t.created_at, t.updated_at`;

interface EntryRow {
  key: string;
  type: string;
  id: string;
  user_id: string | null;
  status: TaskStatus;
  created_at: Date;
  updated_at: Date;
}

function rowToEntry(r: EntryRow): SessionEntry {
  const unfinished =
    r.status === 'waiting' || r.status === 'queued' || r.status === 'running' || r.status === 'retrying';
  return {
    short_id: r.key,
    task_type: r.type,
    task_id: r.id,
    user_id: r.user_id,
    status: unfinished ? 'active' : (r.status as SessionEntry['status']),
    created_at: new Date(r.created_at).toISOString(),
    updated_at: new Date(r.updated_at).toISOString(),
  };
}

export async function listOpenEntries(db: Queryable, key: string): Promise<SessionEntry[]> {
  const res = await db.query<EntryRow>(
    `select ${ENTRY_COLUMNS} from tasks t where t.key = $1 and ${OPEN_ENTRY} order by t.seq`,
    [key],
  );
  return res.rows.map(rowToEntry);
}

export async function getEntry(db: Queryable, taskId: string): Promise<SessionEntry | null> {
  const res = await db.query<EntryRow>(
    `select ${ENTRY_COLUMNS} from tasks t where t.id = $1 and ${OPEN_ENTRY}`,
    [taskId],
  );
  return res.rows[0] ? rowToEntry(res.rows[0]) : null;
}

export async function releaseEntries(
  db: Queryable,
  p: { taskId: string } | { key: string; type: string },
): Promise<number> {
  const res =
    'taskId' in p
      ? await db.query(`update tasks t set entry_released_at = now() where t.id = $1 and ${OPEN_ENTRY}`, [
          p.taskId,
        ])
      : await db.query(
          `update tasks t set entry_released_at = now() where t.key = $1 and t.type = $2 and ${OPEN_ENTRY}`,
          [p.key, p.type],
        );
  return res.rowCount;
}
