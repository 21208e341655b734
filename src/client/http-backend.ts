import { GafferError } from '../core/errors.js';
import type * as F from '../store/flow-types.js';
import type { ApiToken, CreateTokenParams } from '../store/store.js';
import type * as T from '../store/types.js';
import type { ClientBackend } from './client.js';
import { HttpCaller, type HttpOptions, type Query } from './http-caller.js';
import { httpSchedules } from './http-schedules.js';
import type { ScheduleBackend } from './schedules.js';

export { HttpCaller, type HttpOptions, toError } from './http-caller.js';

// JSON carries dates as ISO strings; these put Date objects back where the types say Date.

function d(v: unknown): Date {
  return new Date(v as string);
}
function dn(v: unknown): Date | null {
  return v === null || v === undefined ? null : new Date(v as string);
}

export function reviveTask(t: T.Task): T.Task {
  return {
    ...t,
    runAt: d(t.runAt),
    leaseExpiresAt: dn(t.leaseExpiresAt),
    entryReleasedAt: dn(t.entryReleasedAt),
    idempotencyExpiresAt: dn(t.idempotencyExpiresAt),
    createdAt: d(t.createdAt),
    updatedAt: d(t.updatedAt),
    startedAt: dn(t.startedAt),
    finishedAt: dn(t.finishedAt),
  };
}
export function reviveClaimedTask(t: T.ClaimedTask): T.ClaimedTask {
  return {
    ...t,
    runAt: d(t.runAt),
    leaseExpiresAt: d(t.leaseExpiresAt),
    createdAt: d(t.createdAt),
    startedAt: d(t.startedAt),
  };
}
export function reviveSession(s: T.Session): T.Session {
  return { ...s, createdAt: d(s.createdAt), updatedAt: d(s.updatedAt) };
}
export function reviveWorker(w: T.Worker): T.Worker {
  return {
    ...w,
    registeredAt: d(w.registeredAt),
    lastHeartbeatAt: d(w.lastHeartbeatAt),
    staleAt: dn(w.staleAt),
    deregisteredAt: dn(w.deregisteredAt),
  };
}
function reviveEvent<E extends { at: Date }>(e: E): E {
  return { ...e, at: d(e.at) };
}
function reviveType(t: T.TaskTypeConfig): T.TaskTypeConfig {
  return { ...t, updatedAt: d(t.updatedAt) };
}
function reviveToken(t: ApiToken): ApiToken {
  return { ...t, createdAt: d(t.createdAt), lastUsedAt: dn(t.lastUsedAt), revokedAt: dn(t.revokedAt) };
}

const seg = encodeURIComponent;

function reviveControl(c: F.FlowControl): F.FlowControl {
  return {
    ...c,
    pausedAt: dn(c.pausedAt),
    rateLimitedUntil: dn(c.rateLimitedUntil),
    updatedAt: d(c.updatedAt),
  };
}

function flowPath(t: F.FlowTarget): string {
  return `/limits/${seg(t.scope)}/${seg(t.name)}`;
}

function taskQuery(p: T.ListTasksParams): Query {
  return {
    status: p.status,
    type: p.type,
    queue: p.queue,
    sessionId: p.sessionId,
    key: p.key,
    userId: p.userId,
    workerId: p.workerId,
    createdAfter: p.createdAfter,
    createdBefore: p.createdBefore,
    errorContains: p.errorContains,
    ids: p.ids,
    waitingOn: p.waitingOn,
    limit: p.limit,
    cursor: p.cursor,
    order: p.order,
  } as Query;
}

function filterBody(f: T.TaskFilter): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(f))
    if (v !== undefined) out[k] = v instanceof Date ? v.toISOString() : v;
  return out;
}

/** The GafferClient's backend over HTTP: `new GafferClient(new HttpBackend({ url }))`. */
export class HttpBackend implements ClientBackend {
  readonly http: HttpCaller;

  readonly upsertSchedule: ScheduleBackend['upsertSchedule'];
  readonly getSchedule: ScheduleBackend['getSchedule'];
  readonly listSchedules: ScheduleBackend['listSchedules'];
  readonly deleteSchedule: ScheduleBackend['deleteSchedule'];
  readonly pauseSchedule: ScheduleBackend['pauseSchedule'];
  readonly resumeSchedule: ScheduleBackend['resumeSchedule'];
  readonly getScheduleEvents: ScheduleBackend['getScheduleEvents'];

  constructor(opts: HttpOptions) {
    this.http = new HttpCaller(opts);
    const s = httpSchedules(this.http);
    this.upsertSchedule = s.upsertSchedule;
    this.getSchedule = s.getSchedule;
    this.listSchedules = s.listSchedules;
    this.deleteSchedule = s.deleteSchedule;
    this.pauseSchedule = s.pauseSchedule;
    this.resumeSchedule = s.resumeSchedule;
    this.getScheduleEvents = s.getScheduleEvents;
  }

  async createTasks(p: T.CreateTasksParams): Promise<T.CreateTasksResult> {
    if (p.tasks.length === 1) {
      // One task goes to POST /tasks, whose errors name fields as the direct store does ("type", not "tasks[0].type").
      const one = await this.http.call<{ task: T.Task; outcome: T.CreateOutcome }>('POST', '/tasks', {
        body: { ...p.tasks[0], retry: p.retry },
      });
      return { tasks: [reviveTask(one.task)], outcomes: [one.outcome] };
    }
    const res = await this.http.call<T.CreateTasksResult>('POST', '/tasks/bulk', {
      body: { tasks: p.tasks, retry: p.retry },
    });
    return { tasks: res.tasks.map(reviveTask), outcomes: res.outcomes };
  }
  async getTask(id: string): Promise<T.Task> {
    const { waitingOn: _w, ...task } = await this.http.call<T.Task & { waitingOn?: unknown }>(
      'GET',
      `/tasks/${seg(id)}`,
    );
    return reviveTask(task);
  }
  async waitingOn(id: string): Promise<T.WaitReason[] | null> {
    const task = await this.http.call<{ waitingOn: T.WaitReason[] | null }>('GET', `/tasks/${seg(id)}`);
    return task.waitingOn;
  }
  async listTasks(p: T.ListTasksParams): Promise<T.Page<T.Task>> {
    const page = await this.http.call<T.Page<T.Task>>('GET', '/tasks', { query: taskQuery(p) });
    return { items: page.items.map(reviveTask), nextCursor: page.nextCursor };
  }
  countTasks(f: T.TaskFilter): Promise<Record<string, number>> {
    const { limit: _l, cursor: _c, order: _o, ...q } = taskQuery(f);
    return this.http.call('GET', '/tasks/counts', { query: q });
  }
  async getTaskGraph(taskId: string): Promise<T.TaskGraph> {
    const g = await this.http.call<T.TaskGraph>('GET', `/tasks/${seg(taskId)}/graph`);
    return {
      ...g,
      wait: g.wait ? { ...g.wait, timeoutAt: dn(g.wait.timeoutAt), since: d(g.wait.since) } : null,
    };
  }
  async signalTask(p: { taskId: string; data?: T.Json }): Promise<T.Task> {
    const res = await this.http.call<{ task: T.Task }>('POST', `/tasks/${seg(p.taskId)}/signal`, {
      body: { data: p.data },
    });
    return reviveTask(res.task);
  }
  async getTaskEvents(taskId: string, p: { limit?: number; afterId?: number } = {}): Promise<T.TaskEvent[]> {
    const res = await this.http.call<{ items: T.TaskEvent[] }>('GET', `/tasks/${seg(taskId)}/events`, {
      query: p,
    });
    return res.items.map(reviveEvent);
  }
  async cancelTask(p: { taskId: string; by?: string; reason?: string }): Promise<T.Task> {
    const body = { by: p.by, reason: p.reason };
    return reviveTask(await this.http.call<T.Task>('POST', `/tasks/${seg(p.taskId)}/cancel`, { body }));
  }
  cancelTasks(p: { filter: T.TaskFilter; by?: string; reason?: string }): Promise<T.BulkResult> {
    return this.http.call('POST', '/tasks/cancel', {
      body: { filter: filterBody(p.filter), by: p.by, reason: p.reason },
    });
  }
  async retryTask(p: T.RetryTaskParams): Promise<T.Task> {
    const { taskId, ...body } = p;
    return reviveTask(await this.http.call<T.Task>('POST', `/tasks/${seg(taskId)}/retry`, { body }));
  }
  retryTasks(p: { filter: T.TaskFilter; by?: string; reason?: string }): Promise<T.BulkResult> {
    return this.http.call('POST', '/tasks/retry', {
      body: { filter: filterBody(p.filter), by: p.by, reason: p.reason },
    });
  }
  deleteTask(id: string): Promise<void> {
    return this.http.call('DELETE', `/tasks/${seg(id)}`);
  }

  async setLimits(p: F.SetLimitsParams): Promise<F.FlowControl> {
    const { scope, name, ...body } = p;
    return reviveControl(await this.http.call<F.FlowControl>('PUT', flowPath({ scope, name }), { body }));
  }
  async clearLimits(p: F.FlowTarget): Promise<boolean> {
    try {
      await this.http.call('DELETE', flowPath(p));
      return true;
    } catch (err) {
      if (err instanceof GafferError && err.code === 'not_found') return false;
      throw err;
    }
  }
  async pauseFlow(p: F.FlowTarget & { by?: string }): Promise<F.FlowControl> {
    const res = await this.http.call<{ control: F.FlowControl }>('POST', `${flowPath(p)}/pause`, {
      body: p.by ? { by: p.by } : {},
    });
    return reviveControl(res.control);
  }
  async resumeFlow(p: F.FlowTarget): Promise<F.FlowControl | null> {
    const res = await this.http.call<{ control: F.FlowControl | null }>('POST', `${flowPath(p)}/resume`);
    return res.control ? reviveControl(res.control) : null;
  }
  async listFlowControls(p: Partial<F.FlowTarget> = {}): Promise<F.FlowControl[]> {
    const res = await this.http.call<{ items: F.FlowControl[] }>('GET', '/limits', { query: p as Query });
    return res.items.map(reviveControl);
  }

  async upsertTaskType(p: T.UpsertTaskTypeParams): Promise<T.TaskTypeConfig> {
    const { type, ...body } = p;
    return reviveType(await this.http.call<T.TaskTypeConfig>('PUT', `/task-types/${seg(type)}`, { body }));
  }
  async getTaskType(type: string): Promise<T.TaskTypeConfig | null> {
    try {
      return reviveType(await this.http.call<T.TaskTypeConfig>('GET', `/task-types/${seg(type)}`));
    } catch (err) {
      if (err instanceof GafferError && err.code === 'not_found') return null;
      throw err;
    }
  }
  async listTaskTypes(): Promise<T.TaskTypeConfig[]> {
    return (await this.http.call<{ items: T.TaskTypeConfig[] }>('GET', '/task-types')).items.map(reviveType);
  }

  async createSession(p: T.CreateSessionParams): Promise<T.CreateSessionResult> {
    const { by: _by, ...body } = p;
    const res = await this.http.call<T.CreateSessionResult>('POST', '/sessions', { body });
    return { ...res, session: reviveSession(res.session), tasks: res.tasks.map(reviveTask) };
  }
  async getSession(id: string): Promise<T.Session> {
    const res = await this.http.call<{ session: T.Session }>('GET', `/sessions/${seg(id)}`);
    return reviveSession(res.session);
  }
  async getSessionTasks(id: string): Promise<T.Task[]> {
    const res = await this.http.call<{ tasks: T.Task[] }>('GET', `/sessions/${seg(id)}`);
    return res.tasks.map(reviveTask);
  }
  async listSessions(p: Parameters<ClientBackend['listSessions']>[0]): Promise<T.Page<T.Session>> {
    const page = await this.http.call<T.Page<T.Session>>('GET', '/sessions', { query: p });
    return { items: page.items.map(reviveSession), nextCursor: page.nextCursor };
  }
  deleteSession(id: string): Promise<void> {
    return this.http.call('DELETE', `/sessions/${seg(id)}`);
  }
  cancelSession(p: { sessionId: string; by?: string; reason?: string }): Promise<T.BulkResult> {
    return this.http.call('POST', `/sessions/${seg(p.sessionId)}/cancel`, {
      body: { by: p.by, reason: p.reason },
    });
  }
  retrySessionFailed(p: { sessionId: string; by?: string; reason?: string }): Promise<T.BulkResult> {
    return this.http.call('POST', `/sessions/${seg(p.sessionId)}/retry-failed`, {
      body: { by: p.by, reason: p.reason },
    });
  }
  async listOpenEntries(key: string): Promise<T.SessionEntry[]> {
    return (await this.http.call<{ sessions: T.SessionEntry[] }>('GET', `/entries/${seg(key)}`)).sessions;
  }
  async getEntry(taskId: string): Promise<T.SessionEntry | null> {
    try {
      return await this.http.call<T.SessionEntry>('GET', `/entries/task/${seg(taskId)}`);
    } catch (err) {
      if (err instanceof GafferError && err.code === 'not_found') return null;
      throw err;
    }
  }
  async releaseEntries(p: { taskId: string } | { key: string; type: string }): Promise<number> {
    return (await this.http.call<{ released: number }>('POST', '/entries/release', { body: p })).released;
  }

  async listWorkersPage(p: T.ListWorkersParams = {}): Promise<T.Page<T.Worker>> {
    const res = await this.http.call<T.Page<T.Worker>>('GET', '/workers', {
      query: {
        includeStale: p.includeStale ? 'true' : undefined,
        machineId: p.machineId,
        limit: p.limit,
        cursor: p.cursor,
      },
    });
    return { items: res.items.map(reviveWorker), nextCursor: res.nextCursor };
  }
  async listWorkers(p: { includeStale?: boolean; machineId?: string } = {}): Promise<T.Worker[]> {
    const out: T.Worker[] = [];
    for (let cursor: string | undefined; ; ) {
      const page = await this.listWorkersPage({ ...p, limit: 1000, cursor });
      out.push(...page.items);
      if (!page.nextCursor) return out;
      cursor = page.nextCursor;
    }
  }
  async countWorkers(): Promise<T.WorkerCounts> {
    return (await this.http.call<{ workers: T.WorkerCounts }>('GET', '/stats')).workers;
  }
  async getWorker(id: string): Promise<T.Worker> {
    return reviveWorker((await this.http.call<{ worker: T.Worker }>('GET', `/workers/${seg(id)}`)).worker);
  }
  async getWorkerEvents(workerId: string, p: { limit?: number } = {}): Promise<T.WorkerEvent[]> {
    const res = await this.http.call<{ items: T.WorkerEvent[] }>('GET', `/workers/${seg(workerId)}/events`, {
      query: p,
    });
    return res.items.map(reviveEvent);
  }
  deleteWorker(id: string): Promise<void> {
    return this.http.call('DELETE', `/workers/${seg(id)}`);
  }
  async queueStats(): Promise<T.QueueStat[]> {
    return (await this.http.call<{ queues: T.QueueStat[] }>('GET', '/stats')).queues;
  }

  // Beyond ClientBackend: tokens (admin) and the overview.
  stats(): Promise<{
    counts: Record<string, number>;
    queues: T.QueueStat[];
    workers: { live: number; stale: number };
  }> {
    return this.http.call('GET', '/stats');
  }
  /** Worker tokens may be scoped: `queues` / `types` limit what its workers claim. */
  async createToken(p: CreateTokenParams): Promise<ApiToken & { token: string }> {
    const t = await this.http.call<ApiToken & { token: string }>('POST', '/tokens', { body: p });
    return { ...reviveToken(t), token: t.token };
  }
  async listTokens(): Promise<ApiToken[]> {
    return (await this.http.call<{ items: ApiToken[] }>('GET', '/tokens')).items.map(reviveToken);
  }
  /** Revoking the last active admin token is refused (409 conflict) unless `force`. */
  revokeToken(id: string, opts: { force?: boolean } = {}): Promise<void> {
    return this.http.call('DELETE', `/tokens/${seg(id)}`, opts.force ? { query: { force: 'true' } } : {});
  }
}
