import { checkJson } from '../core/json-limits.js';
import type { SessionStatus } from '../core/states.js';
import type * as F from './flow-types.js';
import type * as O from './observability.js';
import { cancelMatching, retryMatching } from './sql/admin.js';
import * as alerts from './sql/alerts.js';
import * as counts from './sql/counts.js';
import { insertTasks } from './sql/create.js';
import * as flow from './sql/flow.js';
import * as maintenance from './sql/maintenance.js';
import { metricsSnapshot } from './sql/metrics.js';
import * as queries from './sql/queries.js';
import * as sessions from './sql/sessions.js';
import * as tokens from './sql/tokens.js';
import { notifyWork } from './sql/wake.js';
import { SqlScheduleOps } from './sql-store/schedule-ops.js';
import type { ApiToken, CreatedToken, CreateTokenParams, Store } from './store.js';
import type * as T from './types.js';

/** The one Store implementation; the driver (Db) decides PostgreSQL or PGlite. Its operations are grouped in sql-store/. */
export class SqlStore extends SqlScheduleOps implements Store {
  // Flow control

  setLimits(p: F.SetLimitsParams): Promise<F.FlowControl> {
    return this.tx(async (tx) => {
      const out = await flow.setLimits(tx, p);
      await flow.wakeScope(tx, p);
      return out;
    });
  }

  clearLimits(p: F.FlowTarget): Promise<boolean> {
    return this.tx(async (tx) => {
      const out = await flow.clearLimits(tx, p);
      if (out) await flow.wakeScope(tx, p);
      return out;
    });
  }

  pauseFlow(p: F.FlowTarget & { by?: string }): Promise<F.FlowControl> {
    return this.tx((tx) => flow.pause(tx, p));
  }

  resumeFlow(p: F.FlowTarget): Promise<F.FlowControl | null> {
    return this.tx(async (tx) => {
      const out = await flow.resume(tx, p);
      await flow.wakeScope(tx, p);
      return out;
    });
  }

  listFlowControls(p: Partial<F.FlowTarget> = {}): Promise<F.FlowControl[]> {
    return flow.listFlowControls(this.db, p);
  }

  // Sessions

  async createSession(p: T.CreateSessionParams): Promise<T.CreateSessionResult> {
    if (p.metadata !== undefined) checkJson(p.metadata, 'metadata');
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

  // Maintenance

  rescueLeases(p: { now?: Date } = {}): Promise<T.RescueResult> {
    return this.tx(async (tx) => {
      const { requeued, ...out } = await maintenance.rescueLeases(tx, p.now ?? null);
      await notifyWork(tx, requeued);
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
    return counts.queueStats(this.db);
  }

  foldCounts(): Promise<number> {
    return counts.foldCounts(this.db);
  }

  // API tokens

  createToken(p: CreateTokenParams): Promise<CreatedToken> {
    return tokens.createToken(this.db, p);
  }

  verifyToken(secret: string): Promise<ApiToken | null> {
    return tokens.verifyToken(this.db, secret);
  }

  listTokens(): Promise<ApiToken[]> {
    return tokens.listTokens(this.db);
  }

  revokeToken(id: string, opts?: { force?: boolean }): Promise<void> {
    return this.tx((tx) => tokens.revokeToken(tx, id, opts));
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
    return metricsSnapshot(this.db, p.now ?? null, this.options.staleAfterMs, this.options.leaseMs);
  }

  listAlerts(p: { status?: O.AlertStatus; limit?: number } = {}): Promise<O.Alert[]> {
    return alerts.listAlerts(this.db, p);
  }

  syncAlerts(p: O.SyncAlertsParams): Promise<O.SyncAlertsResult> {
    return this.db.transaction((tx) => alerts.syncAlerts(tx, p));
  }
}
