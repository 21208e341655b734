import { NotFoundError } from '../core/errors.js';
import type { SessionStatus } from '../core/states.js';
import type { Db, Queryable } from './db.js';
import { migrate } from './migrate.js';
import type * as O from './observability.js';
import { cancelLocked, cancelMatching, deleteTaskRows, retryMatching } from './sql/admin.js';
import * as alerts from './sql/alerts.js';
import * as claims from './sql/claims.js';
import { insertTasks, SomeTasksExistError } from './sql/create.js';
import { bindEvents, claimedEvent, completedEvent, eventSink } from './sql/events.js';
import * as maintenance from './sql/maintenance.js';
import { metricsSnapshot } from './sql/metrics.js';
import * as queries from './sql/queries.js';
import { retryLocked } from './sql/retry.js';
import { rowToTaskType } from './sql/rows.js';
import * as sessions from './sql/sessions.js';
import * as tokens from './sql/tokens.js';
import { checkName } from './sql/validate.js';
import { bindWake, notifyQueue, wakeChannel } from './sql/wake.js';
import * as workers from './sql/workers.js';
import type { ApiToken, CreatedToken, Store, StoreOptions, TokenRole } from './store.js';
import type * as T from './types.js';

/** The one Store implementation; the driver (Db) decides PostgreSQL or PGlite. */
export class SqlStore implements Store {
  readonly kind: 'postgres' | 'pglite';
  private readonly channel: string;
  private readonly wakeListeners = new Set<T.WakeListener>();
  private readonly eventListeners = new Set<O.StoreEventListener>();
  private unlisten: (() => Promise<void>) | null = null;

  constructor(
    readonly db: Db,
    readonly options: StoreOptions,
  ) {
    this.kind = db.kind;
    this.channel = wakeChannel(options.schema);
  }

  /** Subscribes to wake-ups; called once by the factory. */
  async start(): Promise<void> {
    this.unlisten = await this.db.listen(this.channel, (queue) => {
      for (const l of this.wakeListeners) l(queue);
    });
  }

  private async tx<R>(fn: (tx: Queryable) => Promise<R>): Promise<R> {
    // Events are collected only while someone listens, and published only after commit.
    if (this.eventListeners.size === 0)
      return this.db.transaction((tx) => fn(bindWake(tx, this.db, this.channel)));
    const events: O.StoreEvent[] = [];
    const out = await this.db.transaction((tx) =>
      fn(bindEvents(bindWake(tx, this.db, this.channel), events)),
    );
    this.publish(events);
    return out;
  }

  /** Like tx, for work that is a single statement: it runs outside an explicit transaction. */
  private async statement<R>(fn: (q: Queryable) => Promise<R>): Promise<R> {
    const q = bindWake(this.db.scope(), this.db, this.channel);
    if (this.eventListeners.size === 0) return fn(q);
    const events: O.StoreEvent[] = [];
    const out = await fn(bindEvents(q, events));
    this.publish(events);
    return out;
  }

  onWake(listener: T.WakeListener): () => void {
    this.wakeListeners.add(listener);
    return () => this.wakeListeners.delete(listener);
  }

  onEvent(listener: O.StoreEventListener): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /** An observer's failure must never fail the store call that already committed. */
  private publish(events: O.StoreEvent[]): void {
    for (const ev of events) {
      for (const l of this.eventListeners) {
        try {
          l(ev);
        } catch {
          // Observers log and count; losing one event beats failing a committed write.
        }
      }
    }
  }

  // Tasks

  /**
   * The common case, every task new, is one statement in its own transaction (one round trip);
   * a batch that meets existing tasks is done again as a transaction that resolves them.
   */
  async createTasks(p: T.CreateTasksParams): Promise<T.CreateTasksResult> {
    const ctx = { options: this.options, retry: p.retry ?? false, by: p.by ?? 'api' };
    try {
      return await this.statement((q) => insertTasks(q, p.tasks, { ...ctx, allOrNothing: true }));
    } catch (err) {
      if (!(err instanceof SomeTasksExistError)) throw err;
    }
    return this.tx((tx) => insertTasks(tx, p.tasks, ctx));
  }

  /** Transactional enqueue: the same insert, run on the caller's own open transaction. */
  createTasksIn(tx: Queryable, p: T.CreateTasksParams): Promise<T.CreateTasksResult> {
    return insertTasks(bindWake(tx, this.db, this.channel), p.tasks, {
      options: this.options,
      retry: p.retry ?? false,
      by: p.by ?? 'api',
    });
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
    return queries.listTasks(this.db, p);
  }

  countTasks(f: T.TaskFilter): Promise<Record<string, number>> {
    return queries.countTasks(this.db, f);
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
    return this.tx((tx) => cancelMatching(tx, p.filter, p.by ?? 'api', p.reason ?? null));
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

  // Claiming and reporting

  async claimTasks(p: T.ClaimTasksParams): Promise<T.ClaimedTask[]> {
    const tasks = await claims.claimTasks(this.db, p, this.options.leaseMs, this.options.staleAfterMs);
    if (this.eventListeners.size > 0 && tasks.length > 0) this.publish(tasks.map(claimedEvent));
    return tasks;
  }

  async claimSessionTask(p: T.ClaimSessionTaskParams): Promise<T.ClaimedTask> {
    const task = await claims.claimSessionTask(this.db, p, this.options.leaseMs, this.options.staleAfterMs);
    if (this.eventListeners.size > 0) this.publish([claimedEvent(task)]);
    return task;
  }

  async completeTasks(items: T.CompleteItem[]): Promise<T.CompleteTasksResult> {
    const { rows, ...out } = await claims.completeTasks(this.db, items, this.eventListeners.size > 0);
    if (this.eventListeners.size > 0 && rows.length > 0) {
      this.publish(rows.map(completedEvent));
    }
    return out;
  }

  failTask(p: T.FailTaskParams): Promise<T.Task> {
    return this.tx((tx) => claims.failTask(tx, p));
  }

  handBackTasks(items: T.AttemptRef[]): Promise<string[]> {
    return this.tx(async (tx) => {
      const back = await claims.handBackTasks(tx, items);
      for (const q of new Set(back.map((b) => b.queue))) await notifyQueue(tx, q);
      return back.map((b) => b.id);
    });
  }

  extendLease(p: T.AttemptRef & { leaseMs?: number }): Promise<Date> {
    return claims.extendLease(this.db, { ...p, leaseMs: p.leaseMs ?? this.options.leaseMs });
  }

  reportProgress(p: T.AttemptRef & { progress: T.Json }): Promise<void> {
    return claims.reportProgress(this.db, p);
  }

  // Sessions

  createSession(p: T.CreateSessionParams): Promise<T.CreateSessionResult> {
    return this.tx(async (tx) => {
      const s = await sessions.insertSession(tx, { ...p, taskCount: p.tasks?.length ?? 0 });
      const tasks = (p.tasks ?? []).map((t) => ({
        queue: p.queue,
        ...t,
        key: p.key,
        userId: p.userId,
      }));
      const out = await insertTasks(
        tx,
        tasks,
        { options: this.options, retry: !s.created, by: p.by ?? 'api' },
        { id: s.id, startIndex: s.startIndex },
      );
      const session = await sessions.getSession(tx, s.id);
      return { session, tasks: out.tasks, outcomes: out.outcomes, created: s.created };
    });
  }

  getSession(id: string): Promise<T.Session> {
    return sessions.getSession(this.db, id);
  }

  async getSessionTasks(id: string): Promise<T.Task[]> {
    await sessions.getSession(this.db, id);
    const out: T.Task[] = [];
    let cursor: string | undefined;
    do {
      const page = await queries.listTasks(this.db, { sessionId: id, limit: 1000, cursor });
      out.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return out;
  }

  listSessions(p: {
    key?: string;
    userId?: string;
    status?: SessionStatus;
    limit?: number;
    cursor?: string;
  }): Promise<T.Page<T.Session>> {
    return sessions.listSessions(this.db, p);
  }

  async deleteSession(id: string): Promise<void> {
    await this.tx(async (tx) => {
      await sessions.getSession(tx, id);
      await cancelMatching(tx, { sessionId: id }, 'delete-session', 'session deleted');
      await tx.query('delete from sessions where id = $1', [id]);
    });
  }

  cancelSession(p: { sessionId: string; by?: string; reason?: string }): Promise<T.BulkResult> {
    return this.tx(async (tx) => {
      await sessions.getSession(tx, p.sessionId);
      return cancelMatching(tx, { sessionId: p.sessionId }, p.by ?? 'api', p.reason ?? null);
    });
  }

  retrySessionFailed(p: { sessionId: string; by?: string; reason?: string }): Promise<T.BulkResult> {
    return this.tx(async (tx) => {
      await sessions.getSession(tx, p.sessionId);
      return retryMatching(
        tx,
        { sessionId: p.sessionId, status: 'failed' },
        {
          by: p.by ?? 'api',
          reason: p.reason ?? null,
          limit: this.options.manualRetryLimit,
        },
      );
    });
  }

  listOpenEntries(key: string): Promise<T.SessionEntry[]> {
    return sessions.listOpenEntries(this.db, key);
  }

  getEntry(taskId: string): Promise<T.SessionEntry | null> {
    return sessions.getEntry(this.db, taskId);
  }

  releaseEntries(p: { taskId: string } | { key: string; type: string }): Promise<number> {
    return sessions.releaseEntries(this.db, p);
  }

  // Workers

  async registerWorker(p: T.RegisterWorkerParams): Promise<T.Worker> {
    const { replaced: _replaced, ...worker } = await this.tx((tx) => workers.registerWorker(tx, p));
    return worker;
  }

  heartbeat(p: T.HeartbeatParams): Promise<T.HeartbeatResult> {
    return workers.heartbeat(this.db, p, this.options.leaseMs, this.options.staleAfterMs);
  }

  heartbeats(list: T.HeartbeatParams[]): Promise<T.HeartbeatResult[]> {
    return workers.heartbeats(this.db, list, this.options.leaseMs, this.options.staleAfterMs);
  }

  setWorkerState(p: { workerId: string; state: T.Json }): Promise<void> {
    return workers.setWorkerState(this.db, p.workerId, p.state);
  }

  recordWorkerEvent(p: { workerId: string; kind: string; data?: T.Json }): Promise<void> {
    return workers.recordWorkerEvent(this.db, p.workerId, p.kind, p.data ?? null);
  }

  async deregisterWorker(p: { workerId: string }): Promise<void> {
    await this.tx(async (tx) => {
      await workers.getWorker(tx, p.workerId, this.options.staleAfterMs);
      await workers.markStale(tx, [p.workerId], 'deregistered', null);
      await tx.query('update workers set deregistered_at = now() where id = $1', [p.workerId]);
      await workers.lapseLeasesOf(tx, [p.workerId], 'worker deregistered while holding the task');
      eventSink(tx)?.push({ event: 'worker_deregistered', workerId: p.workerId, reason: 'deregistered' });
    });
  }

  getWorker(id: string): Promise<T.Worker> {
    return workers.getWorker(this.db, id, this.options.staleAfterMs);
  }

  listWorkers(p: { includeStale?: boolean; machineId?: string } = {}): Promise<T.Worker[]> {
    return workers.listWorkers(this.db, p, this.options.staleAfterMs);
  }

  getWorkerEvents(workerId: string, p: { limit?: number } = {}): Promise<T.WorkerEvent[]> {
    return workers.getWorkerEvents(this.db, workerId, p.limit ?? 100);
  }

  async deleteWorker(id: string): Promise<void> {
    await this.tx(async (tx) => {
      await workers.getWorker(tx, id, this.options.staleAfterMs);
      await workers.markStale(tx, [id], 'deleted', null);
      await workers.lapseLeasesOf(tx, [id], 'worker deleted while holding the task');
      await tx.query('delete from workers where id = $1', [id]);
      eventSink(tx)?.push({ event: 'worker_deregistered', workerId: id, reason: 'deleted' });
    });
  }

  // Maintenance

  rescueLeases(p: { now?: Date } = {}): Promise<T.RescueResult> {
    return this.tx(async (tx) => {
      const { queues, ...out } = await maintenance.rescueLeases(tx, p.now ?? null);
      for (const q of queues) await notifyQueue(tx, q);
      return out;
    });
  }

  markStaleWorkers(p: { now?: Date } = {}): Promise<string[]> {
    return this.tx((tx) => maintenance.markStaleWorkers(tx, p.now ?? null, this.options.staleAfterMs));
  }

  prune(p: T.PruneParams): Promise<T.PruneResult> {
    const now = p.now ?? new Date();
    return maintenance.prune(this.db, new Date(now.getTime() - p.olderThanMs), p.batchSize ?? 1000);
  }

  async tryLeadership<R>(name: string, fn: () => Promise<R>): Promise<R | null> {
    // PGlite is one process: nothing to elect, and holding its only connection would block fn.
    if (this.db.kind === 'pglite') return fn();
    return this.db.transaction(async (tx) => {
      const got = await tx.query<{ ok: boolean }>('select pg_try_advisory_xact_lock(hashtext($1)) as ok', [
        `gaffer:${this.options.schema}:${name}`,
      ]);
      if (!got.rows[0]?.ok) return null;
      return fn();
    });
  }

  throughput(p: { minutes?: number; now?: Date } = {}): Promise<queries.ThroughputPoint[]> {
    const minutes = Math.min(Math.max(Math.trunc(p.minutes ?? 60), 1), 24 * 60);
    return queries.throughput(this.db, minutes, p.now ?? null);
  }

  queueStats(): Promise<T.QueueStat[]> {
    return maintenance.queueStats(this.db);
  }

  // API tokens

  createToken(p: { name: string; role: TokenRole }): Promise<CreatedToken> {
    return tokens.createToken(this.db, p);
  }

  verifyToken(secret: string): Promise<ApiToken | null> {
    return tokens.verifyToken(this.db, secret);
  }

  listTokens(): Promise<ApiToken[]> {
    return tokens.listTokens(this.db);
  }

  revokeToken(id: string): Promise<void> {
    return tokens.revokeToken(this.db, id);
  }

  hasTokens(): Promise<boolean> {
    return tokens.hasTokens(this.db);
  }

  bindWorkerToken(p: { workerId: string; tokenId: string }): Promise<void> {
    return tokens.bindWorkerToken(this.db, p.workerId, p.tokenId);
  }

  getWorkerTokenId(workerId: string): Promise<string | null | undefined> {
    return tokens.getWorkerTokenId(this.db, workerId);
  }

  // Observability

  metricsSnapshot(p: { now?: Date } = {}): Promise<O.MetricsSnapshot> {
    return metricsSnapshot(this.db, p.now ?? null, this.options.staleAfterMs);
  }

  listAlerts(p: { status?: O.AlertStatus; limit?: number } = {}): Promise<O.Alert[]> {
    return alerts.listAlerts(this.db, p);
  }

  syncAlerts(p: O.SyncAlertsParams): Promise<O.SyncAlertsResult> {
    return this.db.transaction((tx) => alerts.syncAlerts(tx, p));
  }

  migrate(): Promise<string[]> {
    return migrate(this.db, this.options.schema);
  }

  async close(): Promise<void> {
    if (this.unlisten) await this.unlisten();
    await this.db.close();
  }
}
