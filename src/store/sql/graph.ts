import { NotFoundError } from '../../core/errors.js';
import type { DependencyFailurePolicy, TaskStatus, WaitKind, WaitTimeoutPolicy } from '../../core/states.js';
import type { Queryable } from '../db.js';
import type { ChildResult, Json, TaskError, TaskGraph, TaskLink } from '../types.js';

/** Reads of the task graph (migration 0008): what a task waits for, what waits for it, its children. */

const TASK = 'select t.seq, t.parent_id, t.depth from tasks t where t.id = $1';

const WAIT = `select w.kind, w.pending, w.on_failure, w.round, w.timeout_at, w.on_timeout, w.since
from task_waits w where w.seq = $1`;

/** Links both ways; a child is a dependency whose task names this one as its parent. */
const LINKS = `
select 'up' as dir, t.id, t.type, t.status, d.round, t.parent_id from task_deps d join tasks t on t.seq = d.depends_on_seq
where d.task_seq = $1
union all
select 'down', t.id, t.type, t.status, d.round, t.parent_id from task_deps d join tasks t on t.seq = d.task_seq
where d.depends_on_seq = $1
order by 1, 5, 2`;

interface LinkRow {
  dir: 'up' | 'down';
  id: string;
  type: string;
  status: TaskStatus;
  round: number;
  parent_id: string | null;
}

export async function getTaskGraph(db: Queryable, taskId: string): Promise<TaskGraph> {
  const res = await db.query<{ seq: string | number; parent_id: string | null; depth: number }>(TASK, [
    taskId,
  ]);
  const row = res.rows[0];
  if (!row) throw new NotFoundError('task', taskId);
  const seq = Number(row.seq);
  const [wait, links] = await Promise.all([
    db.query<{
      kind: WaitKind;
      pending: number;
      on_failure: DependencyFailurePolicy;
      round: number;
      timeout_at: Date | null;
      on_timeout: WaitTimeoutPolicy | null;
      since: Date;
    }>(WAIT, [seq]),
    db.query<LinkRow>(LINKS, [seq]),
  ]);
  const w = wait.rows[0];
  const link = (r: LinkRow): TaskLink => ({ id: r.id, type: r.type, status: r.status, round: r.round });
  return {
    taskId,
    parentId: row.parent_id,
    depth: row.depth,
    wait: w
      ? {
          kind: w.kind,
          pending: w.pending,
          onFailure: w.on_failure,
          round: w.round,
          timeoutAt: w.timeout_at ? new Date(w.timeout_at) : null,
          onTimeout: w.on_timeout,
          since: new Date(w.since),
        }
      : null,
    dependsOn: links.rows.filter((r) => r.dir === 'up' && r.parent_id !== taskId).map(link),
    children: links.rows.filter((r) => r.dir === 'up' && r.parent_id === taskId).map(link),
    dependents: links.rows.filter((r) => r.dir === 'down').map(link),
  };
}

const CHILD_RESULTS = `
select t.id, t.type, t.status, t.result, t.error from tasks p
join task_deps d on d.task_seq = p.seq and d.round = $2
join tasks t on t.seq = d.depends_on_seq
where p.id = $1
order by t.seq`;

/** The children a parent's attempt `round` spawned, with how each ended, in the order they were spawned. */
export async function getChildResults(db: Queryable, taskId: string, round: number): Promise<ChildResult[]> {
  const res = await db.query<{
    id: string;
    type: string;
    status: TaskStatus;
    result: Json | null;
    error: TaskError | null;
  }>(CHILD_RESULTS, [taskId, round]);
  return res.rows.map((r) => ({
    id: r.id,
    type: r.type,
    status: r.status,
    result: r.result,
    error: r.error,
  }));
}
