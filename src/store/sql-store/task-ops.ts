import { NotFoundError } from '../../core/errors.js';
import { checkJson } from '../../core/json-limits.js';
import type { Queryable } from '../db.js';
import { cancelLocked, cancelMatching, deleteTaskRows, retryMatching } from '../sql/admin.js';
import { insertTasks, SomeTasksExistError } from '../sql/create.js';
import { insertWithFlowKeys } from '../sql/flow-keys.js';
import * as graph from '../sql/graph.js';
import * as handlerWaits from '../sql/handler-waits.js';
import * as queries from '../sql/queries.js';
import { retryLocked } from '../sql/retry.js';
import { rowToTaskType } from '../sql/rows.js';
import { checkName, checkNewTasks, hasFlowKey } from '../sql/validate.js';
import { waitingOn } from '../sql/waiting-on.js';
import { hasWait } from '../sql/waits.js';
import { bindWake } from '../sql/wake.js';
import type * as T from '../types.js';

import { SqlStoreCore } from './store-core.js';

/** Tasks and task types. */
export abstract class SqlTaskOps extends SqlStoreCore {
  // Tasks

  /**
   * The common case, every task new, is one statement in its own transaction (one round trip);
   * a batch that meets existing tasks is done again as a transaction that resolves them.
   */
  async createTasks(p: T.CreateTasksParams): Promise<T.CreateTasksResult> {
    const ctx = { options: this.options, retry: p.retry ?? false, by: p.by ?? 'api' };
    if (Array.isArray(p.tasks) && p.tasks.some(hasFlowKey)) {
      checkNewTasks(p.tasks);
      return this.tx((tx) => insertWithFlowKeys(tx, p.tasks, ctx, p.now ?? null));
    }
    // Waits are started by statements after the insert: the whole create then needs a transaction.
    if (Array.isArray(p.tasks) && p.tasks.some(hasWait))
      return this.tx((tx) => insertTasks(tx, p.tasks, ctx));
    try {
      return await this.statement((q) => insertTasks(q, p.tasks, { ...ctx, allOrNothing: true }));
    } catch (err) {
      if (!(err instanceof SomeTasksExistError)) throw err;
    }
    return this.tx((tx) => insertTasks(tx, p.tasks, { ...ctx, now: p.now ?? null }));
  }

  /** Transactional enqueue: the same insert, run on the caller's own open transaction. */
  createTasksIn(tx: Queryable, p: T.CreateTasksParams): Promise<T.CreateTasksResult> {
    const ctx = { options: this.options, retry: p.retry ?? false, by: p.by ?? 'api' };
    const bound = bindWake(tx, this.db, this.channel);
    if (Array.isArray(p.tasks) && p.tasks.some(hasFlowKey)) {
      checkNewTasks(p.tasks);
      return insertWithFlowKeys(bound, p.tasks, ctx, p.now ?? null);
    }
    return insertTasks(bound, p.tasks, { ...ctx, now: p.now ?? null });
  }

  async getTask(id: string): Promise<T.Task> {
    const task = await queries.getTaskRow(this.db, id);
    if (!task) throw new NotFoundError('task', id);
    return task;
  }

  findTask(id: string): Promise<T.Task | null> {
    return queries.getTaskRow(this.db, id);
  }

  listTasks(p: T.ListTasksParams): Promise<T.Page<T.Task>> {
    return queries.listTasks(this.db, this.live(p));
  }

  countTasks(f: T.TaskFilter): Promise<Record<string, number>> {
    return queries.countTasks(this.db, this.live(f));
  }

  async waitingOn(taskId: string): Promise<T.WaitReason[] | null> {
    return waitingOn(this.db, await this.getTask(taskId), this.options.staleAfterMs);
  }

  /** A filter on reasons to wait needs to know which workers are live: this store's stale-after. */
  protected live<F extends T.TaskFilter>(f: F): F {
    return f.waitingOn === undefined ? f : { ...f, liveWithinMs: this.options.staleAfterMs };
  }

  async getTaskEvents(taskId: string, p?: { limit?: number; afterId?: number }): Promise<T.TaskEvent[]> {
    const events = await queries.getTaskEvents(this.db, taskId, p);
    if (events.length === 0 && !p?.afterId) await this.getTask(taskId);
    return events;
  }

  cancelTask(p: { taskId: string; by?: string; reason?: string }): Promise<T.Task> {
    return this.tx((tx) => cancelLocked(tx, p.taskId, p.by ?? 'api', p.reason ?? null));
  }

  cancelTasks(p: { filter: T.TaskFilter; by?: string; reason?: string }): Promise<T.BulkResult> {
    return this.tx((tx) => cancelMatching(tx, this.live(p.filter), p.by ?? 'api', p.reason ?? null));
  }

  async retryTask(p: T.RetryTaskParams): Promise<T.Task> {
    const task = await this.tx((tx) =>
      retryLocked(tx, p.taskId, {
        by: p.by ?? 'api',
        reason: p.reason ?? null,
        limit: this.options.manualRetryLimit,
        avoidLastMachine: p.avoidLastMachine,
        avoidLabels: p.avoidLabels,
      }),
    );
    return task!;
  }

  retryTasks(p: { filter: T.TaskFilter; by?: string; reason?: string }): Promise<T.BulkResult> {
    return this.tx((tx) =>
      retryMatching(tx, p.filter, {
        by: p.by ?? 'api',
        reason: p.reason ?? null,
        limit: this.options.manualRetryLimit,
      }),
    );
  }

  async deleteTask(id: string): Promise<void> {
    const n = await deleteTaskRows(this.db, { ids: [id] });
    if (n === 0) throw new NotFoundError('task', id);
  }

  deleteTasks(filter: T.TaskFilter): Promise<number> {
    return deleteTaskRows(this.db, filter);
  }

  // Workflows

  getTaskGraph(taskId: string): Promise<T.TaskGraph> {
    return graph.getTaskGraph(this.db, taskId);
  }

  getChildResults(p: { taskId: string; round: number }): Promise<T.ChildResult[]> {
    return graph.getChildResults(this.db, p.taskId, p.round);
  }

  async signalTask(p: { taskId: string; data?: T.Json }): Promise<T.Task> {
    if (p.data !== undefined) checkJson(p.data, 'data');
    return this.tx((tx) => handlerWaits.signalTask(tx, p));
  }

  expireWaits(p: { now?: Date } = {}): Promise<{ failed: string[]; run: string[] }> {
    return this.tx((tx) => handlerWaits.expireWaits(tx, p.now ?? null));
  }

  // Task types

  async upsertTaskType(p: T.UpsertTaskTypeParams): Promise<T.TaskTypeConfig> {
    checkName(p.type, '', 'type');
    const res = await this.db.query(
      `insert into task_types as tt (type, tracking, max_attempts, timeout_ms, backoff, payload_schema)
       values ($1, coalesce($2, 'track'), $3, $4, $5::jsonb, $6::jsonb)
       on conflict (type) do update set
         tracking = coalesce($2, tt.tracking),
         max_attempts = case when $7 then $3 else tt.max_attempts end,
         timeout_ms = case when $8 then $4 else tt.timeout_ms end,
         backoff = case when $9 then $5::jsonb else tt.backoff end,
         payload_schema = case when $10 then $6::jsonb else tt.payload_schema end,
         updated_at = now()
       returning type, tracking, max_attempts, timeout_ms, backoff, payload_schema, updated_at`,
      [
        p.type,
        p.tracking ?? null,
        p.maxAttempts ?? null,
        p.timeoutMs ?? null,
        p.backoff ? JSON.stringify(p.backoff) : null,
        p.payloadSchema === undefined || p.payloadSchema === null ? null : JSON.stringify(p.payloadSchema),
        p.maxAttempts !== undefined,
        p.timeoutMs !== undefined,
        p.backoff !== undefined,
        p.payloadSchema !== undefined,
      ],
    );
    return rowToTaskType(res.rows[0] as Parameters<typeof rowToTaskType>[0]);
  }

  async getTaskType(type: string): Promise<T.TaskTypeConfig | null> {
    const res = await this.db.query(
      'select type, tracking, max_attempts, timeout_ms, backoff, payload_schema, updated_at from task_types where type = $1',
      [type],
    );
    return res.rows[0] ? rowToTaskType(res.rows[0] as Parameters<typeof rowToTaskType>[0]) : null;
  }

  async listTaskTypes(): Promise<T.TaskTypeConfig[]> {
    const res = await this.db.query(
      'select type, tracking, max_attempts, timeout_ms, backoff, payload_schema, updated_at from task_types order by type',
    );
    return res.rows.map((r) => rowToTaskType(r as Parameters<typeof rowToTaskType>[0]));
  }
}
