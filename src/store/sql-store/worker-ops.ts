import { checkJson } from '../../core/json-limits.js';
import { type CallerClient, onCallerClient } from '../caller-transaction.js';
import * as claims from '../sql/claims.js';
import { claimedEvent, completedEvent, eventSink } from '../sql/events.js';
import * as handlerWaits from '../sql/handler-waits.js';
import { rateLimitTask } from '../sql/rate-limited.js';
import { checkRateLimit } from '../sql/validate.js';
import { notifyWork } from '../sql/wake.js';
import * as workerList from '../sql/worker-list.js';
import * as workers from '../sql/workers.js';
import type * as T from '../types.js';

import { SqlTaskOps } from './task-ops.js';

/** The worker side: claims, reports and the worker registry. */
export abstract class SqlWorkerOps extends SqlTaskOps {
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

  /**
   * Completes an attempt inside the caller's own transaction on `client` (PostgreSQL only): the
   * caller's writes and the completion commit together. Throws LeaseLostError when the attempt no
   * longer holds the task; the caller must then roll back.
   */
  async completeTaskInTransaction(client: CallerClient, item: T.CompleteItem): Promise<void> {
    if (this.kind !== 'postgres')
      throw new Error(
        'completing inside your own transaction needs the PostgreSQL store (the embedded store has no connection of yours to share)',
      );
    checkJson(item.result ?? null, 'result');
    await onCallerClient(this.options.schema, client, (tx) => claims.completeTaskIn(tx, item));
  }

  failTask(p: T.FailTaskParams): Promise<T.Task> {
    return this.tx((tx) => claims.failTask(tx, p));
  }

  handBackTasks(items: T.AttemptRef[]): Promise<string[]> {
    return this.tx(async (tx) => {
      const back = await claims.handBackTasks(tx, items);
      await notifyWork(tx, back);
      return back.map((b) => b.id);
    });
  }

  spawnChildren(p: T.SpawnChildrenParams): Promise<{ parent: T.Task; children: T.Task[] }> {
    return this.tx((tx) =>
      handlerWaits.spawnChildren(tx, p, { options: this.options, retry: false, by: 'parent' }),
    );
  }

  waitForSignal(p: T.WaitForSignalParams): Promise<T.Task> {
    return this.tx((tx) => handlerWaits.waitForSignal(tx, p));
  }

  async rateLimitTask(p: T.RateLimitParams): Promise<{ until: Date }> {
    checkRateLimit(p);
    return this.tx(async (tx) => {
      const row = await rateLimitTask(tx, p);
      if (p.retryAfterMs === 0) await notifyWork(tx, [row]);
      return { until: row.run_at };
    });
  }

  extendLease(p: T.AttemptRef & { leaseMs?: number }): Promise<Date> {
    return claims.extendLease(this.db, { ...p, leaseMs: p.leaseMs ?? this.options.leaseMs });
  }

  async reportProgress(p: T.AttemptRef & { progress: T.Json }): Promise<void> {
    checkJson(p.progress, 'progress');
    return claims.reportProgress(this.db, p);
  }

  // Workers

  async registerWorker(p: T.RegisterWorkerParams): Promise<T.Worker> {
    const { replaced: _replaced, ...worker } = await this.tx((tx) => workers.registerWorker(tx, p));
    return worker;
  }

  async heartbeat(p: T.HeartbeatParams): Promise<T.HeartbeatResult> {
    if (p.state !== undefined) checkJson(p.state, 'state');
    return workers.heartbeat(this.db, p, this.options.leaseMs, this.options.staleAfterMs);
  }

  heartbeats(list: T.HeartbeatParams[]): Promise<T.HeartbeatResult[]> {
    return workers.heartbeats(this.db, list, this.options.leaseMs, this.options.staleAfterMs);
  }

  async setWorkerState(p: { workerId: string; state: T.Json }): Promise<void> {
    checkJson(p.state, 'state');
    return workers.setWorkerState(this.db, p.workerId, p.state);
  }

  recordWorkerEvent(p: { workerId: string; kind: string; data?: T.Json }): Promise<void> {
    return workers.recordWorkerEvent(this.db, p.workerId, p.kind, p.data ?? null);
  }

  async deregisterWorker(p: { workerId: string }): Promise<void> {
    await this.tx(async (tx) => {
      await workers.getWorker(tx, p.workerId, this.options);
      await workers.markStale(tx, [p.workerId], 'deregistered', null);
      await tx.query('update workers set deregistered_at = now() where id = $1', [p.workerId]);
      await workers.lapseLeasesOf(tx, [p.workerId], 'worker deregistered while holding the task');
      eventSink(tx)?.push({ event: 'worker_deregistered', workerId: p.workerId, reason: 'deregistered' });
    });
  }

  getWorker(id: string): Promise<T.Worker> {
    return workers.getWorker(this.db, id, this.options);
  }

  listWorkers(p: { includeStale?: boolean; machineId?: string } = {}): Promise<T.Worker[]> {
    return workerList.listAllWorkers(this.db, p, this.options);
  }

  listWorkersPage(p: T.ListWorkersParams = {}): Promise<T.Page<T.Worker>> {
    return workerList.listWorkersPage(this.db, p, this.options);
  }

  countWorkers(): Promise<T.WorkerCounts> {
    return workerList.countWorkers(this.db, this.options.staleAfterMs);
  }

  getWorkerEvents(workerId: string, p: { limit?: number } = {}): Promise<T.WorkerEvent[]> {
    return workers.getWorkerEvents(this.db, workerId, p.limit ?? 100);
  }

  async deleteWorker(id: string): Promise<void> {
    await this.tx(async (tx) => {
      await workers.getWorker(tx, id, this.options);
      await workers.markStale(tx, [id], 'deleted', null);
      await workers.lapseLeasesOf(tx, [id], 'worker deleted while holding the task');
      await tx.query('delete from workers where id = $1', [id]);
      eventSink(tx)?.push({ event: 'worker_deregistered', workerId: id, reason: 'deleted' });
    });
  }
}
