import { ValidationError } from '../../core/errors.js';
import type { DependencyFailurePolicy, TaskStatus, WaitKind, WaitTimeoutPolicy } from '../../core/states.js';
import type { Queryable } from '../db.js';
import type { NewTask } from '../types.js';

/**
 * Waiting tasks (migration 0008): a waiting task has a row in task_waits and none in task_queue; its
 * dependencies or children are rows of task_deps. The database releases dependents itself, in the
 * transaction that finishes their last dependency (the trigger tasks_release_dependents); this file
 * starts waits and reads them.
 */

export interface WaitStart {
  seq: number;
  kind: WaitKind;
  /** Seqs of the tasks waited for (dependencies or children). */
  deps?: number[];
  onFailure?: DependencyFailurePolicy;
  round?: number;
  timeoutMs?: number;
  onTimeout?: WaitTimeoutPolicy;
}

/** Queued tasks just inserted by this transaction leave the queue for `waiting`. */
const QUEUED_TO_WAITING = `
with moved as (
  update tasks t set status = 'waiting', updated_at = now()
  where t.seq = any($1::bigint[]) and t.status = 'queued'
  returning t.seq)
delete from task_queue q using moved m where q.seq = m.seq`;

export function hasWait(t: NewTask): boolean {
  return (t.dependsOn !== undefined && t.dependsOn.length > 0) || t.waitFor !== undefined;
}

/** Records the waits (begin_waits); the ones already over are queued by the same call. */
export async function beginWaits(tx: Queryable, waits: WaitStart[]): Promise<void> {
  if (waits.length === 0) return;
  await tx.query('select begin_waits($1::json)', [JSON.stringify(waits)]);
}

/**
 * Starts the waits of tasks this transaction created: dependsOn names tasks by id (existing ones or
 * of the same batch), resolved to seqs here; a name no task has is refused with its field.
 */
export async function waitOnCreate(
  tx: Queryable,
  created: Array<{ task: NewTask; seq: number; where: string }>,
): Promise<Map<number, TaskStatus>> {
  const statuses = new Map<number, TaskStatus>();
  if (created.length === 0) return statuses;
  const names = [...new Set(created.flatMap((c) => c.task.dependsOn ?? []))];
  const seqOf = new Map<string, number>();
  if (names.length > 0) {
    const res = await tx.query<{ id: string; seq: string | number }>(
      'select t.id, t.seq from tasks t where t.id = any($1::text[])',
      [names],
    );
    for (const r of res.rows) seqOf.set(r.id, Number(r.seq));
  }
  const waits: WaitStart[] = created.map(({ task, seq, where }) => {
    if (task.waitFor) {
      return {
        seq,
        kind: 'signal',
        timeoutMs: task.waitFor.timeoutMs,
        onTimeout: task.waitFor.onTimeout,
      };
    }
    const deps = (task.dependsOn ?? []).map((id, j) => {
      const s = seqOf.get(id);
      if (s === undefined) {
        throw new ValidationError(`${where}dependsOn[${j}] names no task: ${id}`, {
          field: `${where}dependsOn[${j}]`,
        });
      }
      return s;
    });
    return { seq, kind: 'dependencies', deps: [...new Set(deps)], onFailure: task.onDependencyFailure };
  });
  const seqs = waits.map((w) => w.seq);
  await tx.query(QUEUED_TO_WAITING, [seqs]);
  await beginWaits(tx, waits);
  const res = await tx.query<{ seq: string | number; status: TaskStatus }>(
    'select t.seq, t.status from tasks t where t.seq = any($1::bigint[])',
    [seqs],
  );
  for (const r of res.rows) statuses.set(Number(r.seq), r.status);
  return statuses;
}

/**
 * Refuses a batch whose tasks wait for each other in a circle (dependsOn within the batch); names
 * the field of one task on the cycle. `field` is 'dependsOn' or, for a session, 'after'.
 */
export function checkAcyclic(
  batch: Array<{ id: string; dependsOn?: string[] }>,
  where: (i: number) => string,
  field: string,
): void {
  const index = new Map<string, number>();
  for (const [i, t] of batch.entries()) if (!index.has(t.id)) index.set(t.id, i);
  // 0 unvisited, 1 on the current path, 2 done; iterative so a chain of any length is fine.
  const state = new Array<number>(batch.length).fill(0);
  for (let root = 0; root < batch.length; root++) {
    if (state[root] !== 0) continue;
    const stack: Array<{ node: number; next: number }> = [{ node: root, next: 0 }];
    state[root] = 1;
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const deps = batch[top.node]!.dependsOn ?? [];
      if (top.next >= deps.length) {
        state[top.node] = 2;
        stack.pop();
        continue;
      }
      const dep = index.get(deps[top.next++]!);
      if (dep === undefined || state[dep] === 2) continue;
      if (state[dep] === 1) {
        const path = stack.slice(stack.findIndex((s) => s.node === dep)).map((s) => s.node);
        throw new ValidationError(
          `${where(top.node)}${field} makes a cycle: tasks ${[...path, dep].join(' → ')} wait for each other`,
          { field: `${where(top.node)}${field}` },
        );
      }
      state[dep] = 1;
      stack.push({ node: dep, next: 0 });
    }
  }
}
