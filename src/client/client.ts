import { z } from 'zod';
import { GafferError, ValidationError } from '../core/errors.js';
import type { TrackingPolicy } from '../core/states.js';
import { inSpan, type Span, SpanKind, TRACEPARENT, taskAttributes, traceparentOf } from '../core/tracing.js';
import { CreateBatcher } from '../engine/create-batcher.js';
import type * as F from '../store/flow-types.js';
import type { Store } from '../store/store.js';
import type * as T from '../store/types.js';
import { type ScheduleBackend, ScheduleClient } from './schedules.js';

function enqueueAttributes(tasks: { type: string }[]): Record<string, string | number> {
  return { 'gaffer.task.type': tasks[0]?.type ?? '', 'gaffer.tasks': tasks.length };
}

/** The tasks with the enqueue span's traceparent in their metadata; the same array when nothing is traced. */
function traced<N extends { metadata?: Record<string, T.Json> }>(tasks: N[], span: Span): N[] {
  const traceparent = traceparentOf(span);
  if (!traceparent) return tasks;
  return tasks.map((t) => ({ ...t, metadata: { ...t.metadata, [TRACEPARENT]: traceparent } }));
}

/**
 * The operations a client needs; the direct store and the HTTP client both
 * provide them, so GafferClient works the same over either.
 */
export type ClientBackend = Pick<
  Store,
  | 'createTasks'
  | 'getTask'
  | 'listTasks'
  | 'countTasks'
  | 'waitingOn'
  | 'getTaskEvents'
  | 'cancelTask'
  | 'cancelTasks'
  | 'retryTask'
  | 'retryTasks'
  | 'deleteTask'
  | 'upsertTaskType'
  | 'getTaskType'
  | 'listTaskTypes'
  | 'createSession'
  | 'getSession'
  | 'getSessionTasks'
  | 'listSessions'
  | 'deleteSession'
  | 'cancelSession'
  | 'retrySessionFailed'
  | 'listOpenEntries'
  | 'getEntry'
  | 'releaseEntries'
  | 'listWorkers'
  | 'listWorkersPage'
  | 'countWorkers'
  | 'getWorker'
  | 'getWorkerEvents'
  | 'deleteWorker'
  | 'queueStats'
  | 'getTaskGraph'
  | 'signalTask'
  | 'setLimits'
  | 'clearLimits'
  | 'pauseFlow'
  | 'resumeFlow'
  | 'listFlowControls'
> &
  ScheduleBackend;

/** A queue or a task type, as flow control names it: `{ queue: 'llm' }` or `{ type: 'email.send' }`. */
export type FlowSelector = { queue: string; type?: never } | { type: string; queue?: never };

function flowTarget(s: FlowSelector): F.FlowTarget {
  return s.queue !== undefined ? { scope: 'queue', name: s.queue } : { scope: 'type', name: s.type! };
}

export interface TypeDefinition<S extends z.ZodType = z.ZodType> {
  schema?: S;
  tracking?: TrackingPolicy;
  maxAttempts?: number;
  timeoutMs?: number;
  backoff?: T.NewTask['backoff'];
}

export type EnqueueOptions = Omit<T.NewTask, 'type' | 'payload'>;

export class TaskFailedError extends GafferError {
  constructor(readonly task: T.Task) {
    super('conflict', `task ${task.id} ended ${task.status}: ${task.error?.message ?? 'no error recorded'}`, {
      taskId: task.id,
      status: task.status,
    });
    this.name = 'TaskFailedError';
  }
}

/** The producer's side of Gaffer: create, query and steer tasks and sessions. */
export class GafferClient {
  private readonly schemas = new Map<string, z.ZodType>();

  /** Over a store in this process, concurrent small creates are group-committed (CreateBatcher). */
  private readonly creates: Pick<ClientBackend, 'createTasks'>;

  /** Schedules: `client.schedules.upsert(name, { cron, timezone, type, payload })`, list, pause, resume, delete. */
  readonly schedules: ScheduleClient;

  constructor(readonly backend: ClientBackend) {
    this.creates = 'claimTasks' in backend ? new CreateBatcher(backend) : backend;
    this.schedules = new ScheduleClient(backend, (t) => this.check([t]));
  }

  /**
   * Declares a task type: its payload schema (checked on every create, here and,
   * as JSON Schema, by the server), session tracking policy and defaults.
   */
  async defineType<S extends z.ZodType>(
    type: string,
    def: TypeDefinition<S> = {},
  ): Promise<T.TaskTypeConfig> {
    if (def.schema) this.schemas.set(type, def.schema);
    return this.backend.upsertTaskType({
      type,
      tracking: def.tracking,
      maxAttempts: def.maxAttempts,
      timeoutMs: def.timeoutMs,
      backoff: def.backoff,
      payloadSchema: def.schema
        ? (z.toJSONSchema(def.schema, { unrepresentable: 'any' }) as T.Json)
        : undefined,
    });
  }

  /** Validates payloads against the schemas declared with defineType; names the field that is wrong. */
  private check(tasks: T.NewTask[]): void {
    tasks.forEach((t, i) => {
      const schema = this.schemas.get(t.type);
      if (!schema) return;
      const res = schema.safeParse(t.payload);
      if (!res.success) {
        const issue = res.error.issues[0];
        const path = ['payload', ...(issue?.path ?? [])].join('.');
        const where = tasks.length > 1 ? `tasks[${i}].${path}` : path;
        throw new ValidationError(`${where}: ${issue?.message ?? 'does not match the schema'}`, {
          field: where,
        });
      }
    });
  }

  async enqueue(type: string, payload?: T.Json, opts: EnqueueOptions = {}): Promise<T.Task> {
    const res = await this.enqueueMany([{ ...opts, type, payload }]);
    return res.tasks[0]!;
  }

  /** Creates many tasks in one transaction: all or none. Each carries the caller's trace (see core/tracing). */
  enqueueMany(tasks: T.NewTask[], opts: { retry?: boolean } = {}): Promise<T.CreateTasksResult> {
    this.check(tasks);
    return inSpan(
      'gaffer.enqueue',
      { kind: SpanKind.PRODUCER, attributes: enqueueAttributes(tasks) },
      async (span) => {
        const res = await this.creates.createTasks({ tasks: traced(tasks, span), retry: opts.retry });
        if (res.tasks.length === 1) span.setAttributes(taskAttributes(res.tasks[0]!));
        return res;
      },
    );
  }

  createSession(p: T.CreateSessionParams): Promise<T.CreateSessionResult> {
    this.check(p.tasks.map((t) => ({ ...t })));
    return inSpan(
      'gaffer.enqueue',
      { kind: SpanKind.PRODUCER, attributes: enqueueAttributes(p.tasks) },
      async (span) => {
        const res = await this.backend.createSession({ ...p, tasks: traced(p.tasks, span) });
        span.setAttribute('gaffer.session.id', res.session.id);
        return res;
      },
    );
  }

  get(id: string) {
    return this.backend.getTask(id);
  }
  /** Why the task is not running: its run-at or backoff, no live worker, a machine it avoids, or its turn. */
  waitingOn(id: string) {
    return this.backend.waitingOn(id);
  }
  list(p: T.ListTasksParams = {}) {
    return this.backend.listTasks(p);
  }
  count(f: T.TaskFilter = {}) {
    return this.backend.countTasks(f);
  }
  events(id: string) {
    return this.backend.getTaskEvents(id);
  }
  cancel(id: string, opts: { by?: string; reason?: string } = {}) {
    return this.backend.cancelTask({ taskId: id, ...opts });
  }
  cancelMany(filter: T.TaskFilter, opts: { by?: string; reason?: string } = {}) {
    return this.backend.cancelTasks({ filter, ...opts });
  }
  retry(id: string, opts: Omit<T.RetryTaskParams, 'taskId'> = {}) {
    return this.backend.retryTask({ taskId: id, ...opts });
  }
  retryMany(filter: T.TaskFilter, opts: { by?: string; reason?: string } = {}) {
    return this.backend.retryTasks({ filter, ...opts });
  }
  delete(id: string) {
    return this.backend.deleteTask(id);
  }
  /** Completes the task's wait for a signal: it becomes runnable, its handler reads `data` as ctx.signalData. */
  signal(id: string, data?: T.Json) {
    return this.backend.signalTask({ taskId: id, data });
  }
  /** What the task waits for, its dependencies and dependents, its parent and children. */
  graph(id: string) {
    return this.backend.getTaskGraph(id);
  }
  deadLetters(p: Omit<T.ListTasksParams, 'status'> = {}) {
    return this.backend.listTasks({ ...p, status: 'failed' });
  }

  session(id: string) {
    return this.backend.getSession(id);
  }
  sessionTasks(id: string) {
    return this.backend.getSessionTasks(id);
  }
  sessions(p: Parameters<ClientBackend['listSessions']>[0] = {}) {
    return this.backend.listSessions(p);
  }
  deleteSession(id: string) {
    return this.backend.deleteSession(id);
  }
  cancelSession(id: string, opts: { by?: string; reason?: string } = {}) {
    return this.backend.cancelSession({ sessionId: id, ...opts });
  }
  retrySessionFailed(id: string, opts: { by?: string; reason?: string } = {}) {
    return this.backend.retrySessionFailed({ sessionId: id, ...opts });
  }
  openEntries(key: string) {
    return this.backend.listOpenEntries(key);
  }
  entry(taskId: string) {
    return this.backend.getEntry(taskId);
  }
  release(p: { taskId: string } | { key: string; type: string }) {
    return this.backend.releaseEntries(p);
  }

  /** Every worker (live ones; stale too with includeStale), all pages. */
  /**
   * Flow control: sets every limit of a queue or type (one left out is removed), enforced by every
   * claim across the fleet: `setLimits({ queue: 'llm' }, { concurrency: 20, keyRate: { limit: 60, intervalMs: 60_000 } })`.
   */
  setLimits(target: FlowSelector, limits: Partial<F.FlowLimits>) {
    return this.backend.setLimits({ ...flowTarget(target), ...limits });
  }
  /** Removes a queue's or type's limits (a pause stays); false when it had none. */
  clearLimits(target: FlowSelector) {
    return this.backend.clearLimits(flowTarget(target));
  }
  /** Every queue and type under flow control, with what runs and what waits on each. */
  limits(target?: FlowSelector) {
    return this.backend.listFlowControls(target ? flowTarget(target) : {});
  }
  /** Nothing new of the queue or type is claimed until resume; running tasks finish. */
  pause(target: FlowSelector, opts: { by?: string } = {}) {
    return this.backend.pauseFlow({ ...flowTarget(target), ...opts });
  }
  resume(target: FlowSelector) {
    return this.backend.resumeFlow(flowTarget(target));
  }

  workers(p: { includeStale?: boolean; machineId?: string } = {}) {
    return this.backend.listWorkers(p);
  }
  /** One page of workers, newest registration first; pass nextCursor back as cursor for the next. */
  listWorkers(p: T.ListWorkersParams = {}) {
    return this.backend.listWorkersPage(p);
  }
  /** Live and stale workers, counted by the database. */
  countWorkers() {
    return this.backend.countWorkers();
  }
  worker(id: string) {
    return this.backend.getWorker(id);
  }
  deleteWorker(id: string) {
    return this.backend.deleteWorker(id);
  }

  /**
   * Waits until the task finishes. Resolves with the completed task; rejects with
   * TaskFailedError if it ends failed or cancelled, or a timeout error.
   */
  async waitFor(
    id: string,
    opts: { timeoutMs?: number; signal?: AbortSignal; pollMs?: number } = {},
  ): Promise<T.Task> {
    const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
    let delay = opts.pollMs ?? 25;
    for (;;) {
      const task = await this.backend.getTask(id);
      if (task.status === 'completed') return task;
      if (task.status === 'failed' || task.status === 'cancelled') throw new TaskFailedError(task);
      if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('aborted');
      if (Date.now() >= deadline) {
        throw new GafferError(
          'unavailable',
          `task ${id} did not finish within ${opts.timeoutMs ?? 60_000} ms (it is ${task.status})`,
        );
      }
      await new Promise((r) => setTimeout(r, Math.min(delay, Math.max(0, deadline - Date.now()))));
      delay = Math.min(delay * 2, 1000);
    }
  }
}
