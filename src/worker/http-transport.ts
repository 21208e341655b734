import { HttpCaller, type HttpOptions, reviveClaimedTask } from '../client/http-backend.js';
import { GafferError } from '../core/errors.js';
import { checkJson } from '../core/json-limits.js';
import type { DependencyFailurePolicy, WaitTimeoutPolicy } from '../core/states.js';
import { Batcher } from '../engine/batcher.js';
import type {
  AttemptRef,
  ChildResult,
  ClaimedTask,
  HeartbeatResult,
  Json,
  NewTask,
  RegisterWorkerParams,
  TaskError,
} from '../store/types.js';
import type { ThreadConnection } from './heartbeat-thread-types.js';
import type { Registration, WorkerTransport } from './transport.js';

export type HttpTransportOptions = HttpOptions;

/** The server's longest long-poll; longer waits are split into several claims. */
const MAX_WAIT_MS = 20_000;

interface CompleteItem extends AttemptRef {
  result: Json;
  seq?: number;
}

/**
 * The Worker's transport over the HTTP worker protocol:
 * `new Worker({ transport: new HttpTransport({ url }) })` runs the same handlers
 * as the direct transport. Completions are group-committed on both ends: the
 * ones finished while a request is in flight go together in the next one, and
 * the server batches the requests of all its workers into one UPDATE.
 */
export class HttpTransport implements WorkerTransport {
  private readonly http: HttpCaller;
  private readonly completer: Batcher<CompleteItem, boolean>;

  constructor(private readonly opts: HttpTransportOptions) {
    this.http = new HttpCaller(opts);
    this.completer = new Batcher(
      async (items) => {
        // One worker id per request; a worker has one, so this is one request in practice.
        const byWorker = new Map<string, CompleteItem[]>();
        for (const i of items) {
          const list = byWorker.get(i.workerId ?? '') ?? [];
          list.push(i);
          byWorker.set(i.workerId ?? '', list);
        }
        const done = new Set<string>();
        await Promise.all(
          [...byWorker].map(async ([workerId, list]) => {
            const res = await this.http.call<{ completed: string[] }>(
              'POST',
              `/worker/${seg(workerId)}/complete`,
              {
                body: {
                  items: list.map((i) => ({
                    taskId: i.taskId,
                    attempt: i.attempt,
                    seq: i.seq,
                    result: i.result,
                  })),
                },
              },
            );
            for (const id of res.completed) done.add(id);
          }),
        );
        return items.map((i) => done.has(i.taskId));
        // A result the server would refuse is refused here, alone; a request still refused is sent
        // again in halves, so one bad result never fails the others that shared its request.
      },
      { maxBatch: 1000, check: (i) => checkJson(i.result ?? null, 'result') },
    );
  }

  async register(p: RegisterWorkerParams): Promise<Registration> {
    return this.http.call<Registration>('POST', '/worker/register', { body: p });
  }

  threadConnection(): ThreadConnection {
    const { url, token, timeoutMs, rateLimitRetries } = this.opts;
    return { kind: 'http', options: { url, token, timeoutMs, rateLimitRetries } };
  }

  heartbeat(p: Parameters<WorkerTransport['heartbeat']>[0]): Promise<HeartbeatResult> {
    return this.http.call('POST', `/worker/${seg(p.workerId)}/heartbeat`, {
      body: {
        held: p.held.map((h) => ({ taskId: h.taskId, attempt: h.attempt })),
        state: p.state,
        stats: p.stats,
        liveness: p.liveness,
      },
    });
  }

  async claim(p: Parameters<WorkerTransport['claim']>[0]): Promise<ClaimedTask[]> {
    const deadline = Date.now() + p.waitMs;
    for (;;) {
      const waitMs = Math.max(0, Math.min(MAX_WAIT_MS, deadline - Date.now()));
      let res: { tasks: ClaimedTask[] };
      try {
        res = await this.http.call<{ tasks: ClaimedTask[] }>('POST', `/worker/${seg(p.workerId)}/claim`, {
          body: {
            types: p.types,
            queues: p.queues?.length ? p.queues : undefined,
            limit: Math.min(p.limit, 1000),
            waitMs,
          },
          signal: p.signal,
          timeoutMs: waitMs + 30_000,
        });
      } catch (err) {
        if (p.signal.aborted) return [];
        throw err;
      }
      if (res.tasks.length > 0 || Date.now() >= deadline || p.signal.aborted)
        return res.tasks.map(reviveClaimedTask);
    }
  }

  async claimSessionTask(p: { workerId: string; sessionId: string; index?: number }): Promise<ClaimedTask> {
    const res = await this.http.call<{ task: ClaimedTask }>(
      'POST',
      `/worker/${seg(p.workerId)}/claim-session`,
      {
        body: { sessionId: p.sessionId, index: p.index },
      },
    );
    return reviveClaimedTask(res.task);
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

  fail(p: AttemptRef & { error: TaskError }): Promise<boolean> {
    return lostIsFalse(
      this.http.call('POST', `/worker/${seg(p.workerId ?? '')}/tasks/${seg(p.taskId)}/fail`, {
        body: { attempt: p.attempt, error: p.error },
      }),
    );
  }

  progress(p: AttemptRef & { progress: Json }): Promise<boolean> {
    return lostIsFalse(
      this.http.call('POST', `/worker/${seg(p.workerId ?? '')}/tasks/${seg(p.taskId)}/progress`, {
        body: { attempt: p.attempt, progress: p.progress },
      }),
    );
  }

  rateLimited(p: AttemptRef & { retryAfterMs: number; reason?: string }): Promise<boolean> {
    return lostIsFalse(
      this.http.call('POST', `/worker/${seg(p.workerId ?? '')}/tasks/${seg(p.taskId)}/rate-limited`, {
        body: { attempt: p.attempt, retryAfterMs: p.retryAfterMs, ...(p.reason ? { reason: p.reason } : {}) },
      }),
    );
  }

  async setState(p: { workerId: string; state: Json }): Promise<void> {
    await this.http.call('PUT', `/worker/${seg(p.workerId)}/state`, { body: { state: p.state } });
  }

  async handBack(items: AttemptRef[]): Promise<void> {
    const byWorker = new Map<string, AttemptRef[]>();
    for (const i of items) byWorker.set(i.workerId ?? '', [...(byWorker.get(i.workerId ?? '') ?? []), i]);
    for (const [workerId, list] of byWorker) {
      for (let i = 0; i < list.length; i += 1000) {
        const chunk = list.slice(i, i + 1000).map((r) => ({ taskId: r.taskId, attempt: r.attempt }));
        await this.http.call('POST', `/worker/${seg(workerId)}/hand-back`, { body: { items: chunk } });
      }
    }
  }

  async spawn(
    p: AttemptRef & { children: NewTask[]; onChildFailure?: DependencyFailurePolicy },
  ): Promise<void> {
    await this.http.call('POST', `/worker/${seg(p.workerId ?? '')}/tasks/${seg(p.taskId)}/spawn`, {
      body: { attempt: p.attempt, children: p.children, onChildFailure: p.onChildFailure },
    });
  }

  async waitForSignal(p: AttemptRef & { timeoutMs?: number; onTimeout?: WaitTimeoutPolicy }): Promise<void> {
    await this.http.call('POST', `/worker/${seg(p.workerId ?? '')}/tasks/${seg(p.taskId)}/wait-signal`, {
      body: { attempt: p.attempt, timeoutMs: p.timeoutMs, onTimeout: p.onTimeout },
    });
  }

  async childResults(p: AttemptRef & { round: number }): Promise<ChildResult[]> {
    const res = await this.http.call<{ items: ChildResult[] }>(
      'GET',
      `/worker/${seg(p.workerId ?? '')}/tasks/${seg(p.taskId)}/children`,
      { query: { attempt: p.attempt, round: p.round } },
    );
    return res.items;
  }

  async deregister(p: { workerId: string }): Promise<void> {
    await this.completer.idle();
    await this.http.call('DELETE', `/worker/${seg(p.workerId)}`);
  }

  async close(): Promise<void> {
    await this.completer.idle();
    this.http.close();
  }
}

function seg(s: string): string {
  return encodeURIComponent(s);
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
