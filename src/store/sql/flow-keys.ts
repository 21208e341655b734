import { newId } from '../../core/ids.js';
import type { Queryable } from '../db.js';
import type { CreateOutcome, CreateTasksResult, NewTask, Task } from '../types.js';
import { type InsertContext, insertTasks } from './create.js';
import { rowToTask, TASK_COLUMNS, type TaskRow } from './rows.js';
import { hasFlowKey } from './validate.js';

/*
 * Debounce and throttle (issue 14, migration 0008). A key is one row per (type, key), so concurrent
 * creates of one key, on any server, queue up on that row's lock: the first makes or updates the
 * key's task, the next one sees what it committed. Plain tasks of the same call are inserted in the
 * same transaction, so a call stays all or nothing.
 */

/**
 * Takes the debounce key for a new task id, or locks the key's row as it is: `mine` tells which.
 * The no-op update is what locks an existing row (DO NOTHING would not).
 */
const TAKE_DEBOUNCE = `
insert into task_debounce as d (type, key, task_id) values ($1, $2, $3)
on conflict (type, key) do update set task_id = d.task_id
returning d.task_id, d.task_id = $3 as mine`;

const POINT_DEBOUNCE = 'update task_debounce set task_id = $3 where type = $1 and key = $2';

/**
 * Replaces the payload of the key's task and pushes its run time, if it still waits. The task row is
 * locked first, as cancel and retry lock it; its queue row is then taken with SKIP LOCKED: a claim
 * locks queue rows first, so waiting for one here could deadlock with a claim waiting for the task
 * row, and a queue row a claim holds is a task about to run, which no longer waits.
 */
const REPLACE_WAITING = `
with task as (
  select t.seq, t.run_at from tasks t where t.id = $1 and t.status = 'queued' for update
),
queued as (
  select q.seq from task_queue q, task q2 where q.seq = q2.seq and q.status = 'queued'
  for update of q skip locked
),
moved as (
  update task_queue q set run_at = coalesce($3::timestamptz, now()) + make_interval(secs => $4::int / 1000.0)
  from queued w where q.seq = w.seq
  returning q.seq, q.run_at
),
replaced as (
  update tasks t set payload = $2::jsonb, run_at = m.run_at, updated_at = now()
  from moved m where t.seq = m.seq
  returning ${TASK_COLUMNS}
),
ev as (
  insert into task_events (task_id, attempt, kind, data)
  select r.id, r.attempt, 'debounced', jsonb_build_object('previousRunAt', o.run_at, 'runAt', r.run_at, 'by', $5::text)
  from replaced r, task o
)
select * from replaced`;

/**
 * Opens the key's window for a new task id unless one is open: returns the row only when it took it.
 * A row that is not updated is still locked (ON CONFLICT DO UPDATE locks the row it meets).
 */
const TAKE_THROTTLE = `
insert into task_throttle as th (type, key, task_id, until)
values ($1, $2, $3, coalesce($4::timestamptz, now()) + make_interval(secs => $5::int / 1000.0))
on conflict (type, key) do update set task_id = excluded.task_id, until = excluded.until
  where th.until <= coalesce($4::timestamptz, now())
returning th.task_id`;

const THROTTLE_HOLDER = 'select task_id from task_throttle where type = $1 and key = $2';

/** The window's task is gone (deleted or pruned): the new task opens a fresh window. */
const POINT_THROTTLE = `
update task_throttle set task_id = $3,
  until = coalesce($4::timestamptz, now()) + make_interval(secs => $5::int / 1000.0)
where type = $1 and key = $2`;

const GET_TASK = `select ${TASK_COLUMNS} from tasks t where t.id = $1`;

type Created = { task: Task; outcome: CreateOutcome };

/** Inserts one task of a keyed create, with its key fields off (insert_tasks knows nothing of them). */
async function insertOne(
  tx: Queryable,
  t: NewTask,
  id: string,
  ctx: InsertContext,
  timing: Pick<NewTask, 'runAt' | 'delayMs'> = {},
): Promise<Created> {
  const { debounce: _d, throttle: _t, ...plain } = t;
  const res = await insertTasks(tx, [{ ...plain, ...timing, id }], ctx);
  return { task: res.tasks[0]!, outcome: res.outcomes[0]! };
}

async function debounced(tx: Queryable, t: NewTask, ctx: InsertContext, now: Date | null): Promise<Created> {
  const { key, ms } = t.debounce!;
  const id = t.id ?? newId();
  const taken = await tx.query<{ task_id: string; mine: boolean }>(TAKE_DEBOUNCE, [t.type, key, id]);
  const holder = taken.rows[0]!;
  if (!holder.mine) {
    const payload = JSON.stringify(t.payload ?? null);
    const res = await tx.query<TaskRow>(REPLACE_WAITING, [holder.task_id, payload, now, ms, ctx.by]);
    if (res.rows[0]) return { task: rowToTask(res.rows[0]), outcome: 'debounced' };
    // The key's task runs, ran or is gone: this create makes the key's next task.
    await tx.query(POINT_DEBOUNCE, [t.type, key, id]);
  }
  const made = await insertOne(
    tx,
    t,
    id,
    ctx,
    now ? { runAt: new Date(now.getTime() + ms) } : { delayMs: ms },
  );
  // An id or idempotency key that existed answers that task: the key follows it.
  if (made.task.id !== id) await tx.query(POINT_DEBOUNCE, [t.type, key, made.task.id]);
  return made;
}

async function throttled(tx: Queryable, t: NewTask, ctx: InsertContext, now: Date | null): Promise<Created> {
  const { key, ms } = t.throttle!;
  const id = t.id ?? newId();
  const params = [t.type, key, id, now, ms];
  const taken = await tx.query(TAKE_THROTTLE, params);
  if (taken.rows.length === 0) {
    const holder = (await tx.query<{ task_id: string }>(THROTTLE_HOLDER, [t.type, key])).rows[0]!;
    const row = (await tx.query<TaskRow>(GET_TASK, [holder.task_id])).rows[0];
    if (row) return { task: rowToTask(row), outcome: 'throttled' };
    await tx.query(POINT_THROTTLE, params);
  }
  const made = await insertOne(tx, t, id, ctx);
  // An id or idempotency key that existed answers that task: the window holds it.
  if (made.task.id !== id) await tx.query(POINT_THROTTLE, [t.type, key, made.task.id, now, ms]);
  return made;
}

/**
 * A create call with debounced or throttled tasks, in the caller's transaction: the plain tasks in
 * one insert, each keyed task on its key's row, every answer at its task's index.
 */
export async function insertWithFlowKeys(
  tx: Queryable,
  input: NewTask[],
  ctx: InsertContext,
  now: Date | null,
): Promise<CreateTasksResult> {
  const tasks: Task[] = new Array(input.length);
  const outcomes: CreateOutcome[] = new Array(input.length);
  const plainAt: number[] = [];
  input.forEach((t, i) => {
    if (!hasFlowKey(t)) plainAt.push(i);
  });
  if (plainAt.length > 0) {
    const res = await insertTasks(
      tx,
      plainAt.map((i) => input[i]!),
      ctx,
    );
    plainAt.forEach((i, j) => {
      tasks[i] = res.tasks[j]!;
      outcomes[i] = res.outcomes[j]!;
    });
  }
  for (const [i, t] of input.entries()) {
    if (!hasFlowKey(t)) continue;
    const made = t.debounce ? await debounced(tx, t, ctx, now) : await throttled(tx, t, ctx, now);
    tasks[i] = made.task;
    outcomes[i] = made.outcome;
  }
  return { tasks, outcomes };
}
