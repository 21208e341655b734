import { ValidationError } from '../../core/errors.js';
import type { Queryable } from '../db.js';
import type { ListWorkersParams, Page, Worker, WorkerCounts } from '../types.js';
import { rowToWorker, WORKER_COLUMNS, type WorkerClock, type WorkerRow } from './rows.js';

export const MAX_WORKER_PAGE = 1000;
export const DEFAULT_WORKER_PAGE = 100;

/** A worker's place in the listing: registered-at in microseconds since the epoch, then its id. */
function encodeCursor(us: string, id: string): string {
  return Buffer.from(JSON.stringify([us, id])).toString('base64url');
}

function decodeCursor(cursor: string): [string, string] {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2 && /^-?\d{1,20}$/.test(String(v[0])) && typeof v[1] === 'string') {
      return [String(v[0]), v[1]];
    }
  } catch {
    // reported below
  }
  throw new ValidationError('cursor is not one this server returned; pass nextCursor unchanged', {
    field: 'cursor',
  });
}

/**
 * One page of workers, newest registration first, after the cursor's worker (keyset pagination on
 * workers_registered, so a page costs the same however many workers there are).
 */
const PAGE = `
select ${WORKER_COLUMNS}, (extract(epoch from w.registered_at) * 1000000)::int8::text as reg_us
from workers w
where ($1::text is null or w.machine_id = $1)
  and ($2::boolean or (w.stale_at is null and w.last_heartbeat_at > now() - make_interval(secs => $3::int / 1000.0)))
  and ($4::int8 is null or (w.registered_at, w.id) < (to_timestamp(0) + $4::int8 * interval '1 microsecond', $5::text))
order by w.registered_at desc, w.id desc
limit $6`;

export async function listWorkersPage(
  db: Queryable,
  p: ListWorkersParams,
  clock: WorkerClock,
): Promise<Page<Worker>> {
  const limit = p.limit ?? DEFAULT_WORKER_PAGE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_WORKER_PAGE) {
    throw new ValidationError(`limit must be an integer from 1 to ${MAX_WORKER_PAGE}`, { field: 'limit' });
  }
  const [afterUs, afterId] = p.cursor ? decodeCursor(p.cursor) : [null, null];
  const res = await db.query<WorkerRow & { reg_us: string }>(PAGE, [
    p.machineId ?? null,
    p.includeStale ?? false,
    clock.staleAfterMs,
    afterUs,
    afterId,
    limit + 1,
  ]);
  const rows = res.rows.slice(0, limit);
  const last = rows[rows.length - 1];
  return {
    items: rows.map((r) => rowToWorker(r, clock)),
    nextCursor: res.rows.length > limit && last ? encodeCursor(last.reg_us, last.id) : null,
  };
}

/** Every worker the filter names, page by page. */
export async function listAllWorkers(
  db: Queryable,
  p: Omit<ListWorkersParams, 'limit' | 'cursor'>,
  clock: WorkerClock,
): Promise<Worker[]> {
  const out: Worker[] = [];
  for (let cursor: string | undefined; ; ) {
    const page = await listWorkersPage(db, { ...p, limit: MAX_WORKER_PAGE, cursor }, clock);
    out.push(...page.items);
    if (!page.nextCursor) return out;
    cursor = page.nextCursor;
  }
}

/**
 * Live and stale workers, counted by the database rather than from a page: the fleet's size, whatever
 * it is. A worker is live while it is not marked stale and its last heartbeat is recent.
 */
export async function countWorkers(db: Queryable, staleAfterMs: number): Promise<WorkerCounts> {
  const res = await db.query<{ live: number; stale: number }>(
    `select count(*) filter (where w.stale_at is null
        and w.last_heartbeat_at > now() - make_interval(secs => $1::int / 1000.0))::int as live,
      count(*) filter (where w.stale_at is not null
        or w.last_heartbeat_at <= now() - make_interval(secs => $1::int / 1000.0))::int as stale
     from workers w`,
    [staleAfterMs],
  );
  return { live: res.rows[0]?.live ?? 0, stale: res.rows[0]?.stale ?? 0 };
}
