import { checkJson } from '../core/json-limits.js';
import { Batcher } from '../engine/batcher.js';
import { claimOrWait, WorkWaiters } from '../engine/work-waiters.js';
import type { Store } from '../store/store.js';
import type { ClaimedTask, CompleteItem, HeartbeatParams, HeartbeatResult } from '../store/types.js';

export interface ClaimRequest {
  workerId: string;
  types?: string[];
  queues?: string[];
  limit: number;
  waitMs: number;
  /** Aborts the wait (the client went away). */
  signal?: AbortSignal;
}

/**
 * The server side of the worker protocol's hot paths. Claims long-poll: a
 * claim that finds nothing waits for a wake-up from the store (a commit that
 * made work runnable, on this node or, through LISTEN/NOTIFY, another) and
 * claims again at once; a wake-up of k tasks wakes at most k waiting claims
 * of its type and queue (WorkWaiters), and a jittered slow poll covers delayed
 * tasks and backoffs, which become runnable without a commit. Completions from
 * many workers are group-committed: one UPDATE per flush, each caller answered
 * after it commits.
 */
export class WorkerHub {
  private readonly waiters: WorkWaiters;
  private readonly completer: Batcher<CompleteItem, boolean>;
  private readonly beats: Batcher<HeartbeatParams, HeartbeatResult>;
  private readonly closing = new AbortController();

  constructor(
    private readonly store: Store,
    private readonly pollIntervalMs = 1000,
  ) {
    // Each item is checked before it joins a shared statement, and a statement that still fails is
    // retried in halves: one worker's bad result or state never fails its neighbours' writes.
    this.completer = new Batcher(
      async (items) => {
        const res = await store.completeTasks(items);
        const done = new Set(res.completed);
        return items.map((i) => done.has(i.taskId));
      },
      { check: (i) => checkJson(i.result ?? null, 'result') },
    );
    // Heartbeats of many workers go out as one statement, answered after it commits.
    this.beats = new Batcher((items) => store.heartbeats(items), {
      maxBatch: 256,
      check: (p) => {
        if (p.state !== undefined) checkJson(p.state, 'state');
      },
    });
    this.waiters = WorkWaiters.forStore(store);
  }

  get waiting(): number {
    return this.waiters.size;
  }

  complete(item: CompleteItem): Promise<boolean> {
    return this.completer.add(item);
  }

  heartbeat(p: HeartbeatParams): Promise<HeartbeatResult> {
    return this.beats.add(p);
  }

  /** Claims up to `limit` tasks, waiting up to `waitMs` for some to arrive. */
  claim(req: ClaimRequest): Promise<ClaimedTask[]> {
    const params = { workerId: req.workerId, types: req.types, queues: req.queues, limit: req.limit };
    return claimOrWait(
      this.waiters,
      {
        ...params,
        waitMs: req.waitMs,
        pollIntervalMs: this.pollIntervalMs,
        signals: [req.signal, this.closing.signal],
      },
      () => this.store.claimTasks(params),
    );
  }

  /** Resolves once every completion and heartbeat received so far is committed. */
  async idle(): Promise<void> {
    await Promise.all([this.completer.idle(), this.beats.idle()]);
  }

  /** Ends every waiting claim (they answer with no tasks) so the server can close at once. */
  wakeAllForClose(): void {
    this.closing.abort();
  }

  async close(): Promise<void> {
    this.wakeAllForClose();
    await Promise.all([this.completer.idle(), this.beats.idle()]);
  }
}
