import { GafferError } from '../core/errors.js';
import { checkJson } from '../core/json-limits.js';
import type { DependencyFailurePolicy, WaitTimeoutPolicy } from '../core/states.js';
import { Batcher } from '../engine/batcher.js';
import { claimOrWait, WorkWaiters } from '../engine/work-waiters.js';
import type { CallerClient } from '../store/caller-transaction.js';
import type { Store } from '../store/store.js';
import type {
  AttemptRef,
  ChildResult,
  ClaimedTask,
  CompleteItem,
  Json,
  NewTask,
  TaskError,
} from '../store/types.js';
import type { ThreadConnection } from './heartbeat-thread-types.js';
import type { AttemptState, Registration, WorkerTransport } from './transport.js';

export interface DirectTransportOptions {
  /** Poll this often when no wake-up arrives (delayed tasks, backoffs, missed notifications). */
  pollIntervalMs?: number;
  /** Close the store when the worker stops. */
  ownsStore?: boolean;
}

/** Straight to the store: claims with FOR UPDATE SKIP LOCKED, completions group-committed. */
export class DirectTransport implements WorkerTransport {
  private readonly completer: Batcher<CompleteItem, boolean>;
  private readonly pollIntervalMs: number;

  constructor(
    readonly store: Store,
    private readonly opts: DirectTransportOptions = {},
  ) {
    this.pollIntervalMs = opts.pollIntervalMs ?? 1000;
    // A result the database cannot take is refused alone, before it shares a statement with others.
    this.completer = new Batcher(
      async (items) => {
        const res = await store.completeTasks(items);
        const done = new Set(res.completed);
        return items.map((i) => done.has(i.taskId));
      },
      { check: (i) => checkJson(i.result ?? null, 'result') },
    );
  }

  async register(p: Parameters<Store['registerWorker']>[0]): Promise<Registration> {
    const w = await this.store.registerWorker(p);
    return {
      workerId: w.id,
      leaseMs: this.store.options.leaseMs,
      staleAfterMs: this.store.options.staleAfterMs,
    };
  }

  heartbeat(p: Parameters<WorkerTransport['heartbeat']>[0]) {
    return this.store.heartbeat(p);
  }

  /** Claims, waiting for a wake-up when there is nothing: the process's claims share one WorkWaiters per store. */
  claim(p: Parameters<WorkerTransport['claim']>[0]): Promise<ClaimedTask[]> {
    const params = { workerId: p.workerId, types: p.types, queues: p.queues, limit: p.limit };
    return claimOrWait(
      WorkWaiters.forStore(this.store),
      { ...params, waitMs: p.waitMs, pollIntervalMs: this.pollIntervalMs, signals: [p.signal] },
      () => this.store.claimTasks(params),
    );
  }

  claimSessionTask(p: { workerId: string; sessionId: string; index?: number }): Promise<ClaimedTask> {
    return this.store.claimSessionTask(p);
  }

  complete(p: AttemptRef & { result: Json; seq?: number }): Promise<boolean> {
    return this.completer.add({
      taskId: p.taskId,
      attempt: p.attempt,
      workerId: p.workerId,
      result: p.result,
      seq: p.seq,
    });
  }

  completeInTransaction(client: CallerClient, p: AttemptRef & { result: Json; seq?: number }): Promise<void> {
    return this.store.completeTaskInTransaction(client, p);
  }

  threadConnection(): ThreadConnection | null {
    const spec = this.store.threadConnection?.();
    return spec ? { kind: 'postgres', ...spec } : null;
  }

  async attemptState(p: AttemptRef): Promise<AttemptState> {
    const t = await this.store.findTask(p.taskId);
    if (!t || t.attempt !== p.attempt || (p.workerId && t.workerId !== p.workerId)) return 'gone';
    return t.status === 'completed' ? 'completed' : t.status === 'running' ? 'running' : 'gone';
  }

  async fail(p: AttemptRef & { error: TaskError }): Promise<boolean> {
    return lostIsFalse(this.store.failTask(p));
  }

  async progress(p: AttemptRef & { progress: Json }): Promise<boolean> {
    return lostIsFalse(this.store.reportProgress(p));
  }

  setState(p: { workerId: string; state: Json }): Promise<void> {
    return this.store.setWorkerState(p);
  }

  rateLimited(p: AttemptRef & { retryAfterMs: number; reason?: string }): Promise<boolean> {
    return lostIsFalse(this.store.rateLimitTask(p));
  }

  async handBack(items: AttemptRef[]): Promise<void> {
    await this.store.handBackTasks(items);
  }

  async spawn(
    p: AttemptRef & { children: NewTask[]; onChildFailure?: DependencyFailurePolicy },
  ): Promise<void> {
    await this.store.spawnChildren(p);
  }

  async waitForSignal(p: AttemptRef & { timeoutMs?: number; onTimeout?: WaitTimeoutPolicy }): Promise<void> {
    await this.store.waitForSignal(p);
  }

  childResults(p: AttemptRef & { round: number }): Promise<ChildResult[]> {
    return this.store.getChildResults({ taskId: p.taskId, round: p.round });
  }

  async deregister(p: { workerId: string }): Promise<void> {
    await this.completer.idle();
    await this.store.deregisterWorker(p);
  }

  async close(): Promise<void> {
    await this.completer.idle();
    if (this.opts.ownsStore) await this.store.close();
  }
}

async function lostIsFalse(p: Promise<unknown>): Promise<boolean> {
  try {
    await p;
    return true;
  } catch (err) {
    if (err instanceof GafferError && (err.code === 'lease_lost' || err.code === 'not_found')) return false;
    throw err;
  }
}
