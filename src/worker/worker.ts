import { hostname } from 'node:os';
import type { z } from 'zod';
import { GafferError, NonRetryableError } from '../core/errors.js';
import { createLogger, type Logger } from '../engine/logger.js';
import { isConnectionError } from '../store/connection-errors.js';
import type { AttemptRef, ClaimedTask, Json, TaskError } from '../store/types.js';
import type { WorkerTransport } from './transport.js';

export interface TaskContext {
  task: ClaimedTask;
  attempt: number;
  workerId: string;
  /** Fires when the task is cancelled, its lease is lost, it times out, or the worker shuts down past its grace period. */
  signal: AbortSignal;
  /** Records progress (any JSON, e.g. a fraction or {done, total}); shown live in the dashboard. */
  progress(value: Json): Promise<void>;
  /** Sets the worker's free-form state (seed 002's GUI state). */
  setState(state: Json): Promise<void>;
  log: Logger;
}

export interface HandlerDefinition<S extends z.ZodType = z.ZodType> {
  schema?: S;
  handler: (payload: z.output<S>, ctx: TaskContext) => Promise<unknown> | unknown;
}

export interface WorkerOptions {
  transport: WorkerTransport;
  /** Handlers run at once at most this many (default 10). */
  concurrency?: number;
  /** Claim up to this many extra tasks ahead of free slots (default 0); handed back unstarted on shutdown. */
  prefetch?: number;
  queues?: string[];
  machineId?: string;
  /** Slot name on the machine; a new worker with the same machine and name replaces this one at once. */
  name?: string;
  labels?: Record<string, string>;
  heartbeatMs?: number;
  /** Long-poll wait of one claim call (default 20 s). */
  claimWaitMs?: number;
  /** How long stop() waits for running handlers before aborting them (default 30 s). */
  shutdownGraceMs?: number;
  /** Stop gracefully on SIGTERM / SIGINT (default false; the CLI turns it on). */
  handleSignals?: boolean;
  logger?: Logger;
  version?: string;
}

export interface WorkerSummary {
  workerId: string | null;
  uptimeMs: number;
  processed: number;
  completed: number;
  failed: number;
  /** completed / processed, 0..1; 1 when nothing was processed. */
  successRate: number;
  running: number;
}

interface Running {
  task: ClaimedTask;
  /** Made when the handler first reads ctx.signal or the task is aborted; most tasks never need one. */
  controller: AbortController | null;
  lost: boolean;
  timer?: NodeJS.Timeout;
}

function controllerOf(entry: Running): AbortController {
  entry.controller ??= new AbortController();
  return entry.controller;
}

const VERSION = '0.1.0';

/** Runs handlers for claimed tasks; one handler API over either transport. */
export class Worker {
  readonly options: Required<Omit<WorkerOptions, 'logger' | 'labels' | 'name' | 'queues'>> &
    Pick<WorkerOptions, 'labels' | 'name' | 'queues'>;
  private readonly handlers = new Map<string, HandlerDefinition>();
  private readonly running = new Map<string, Running>();
  /** Handler returned, completion not yet durable: the slot is free, the lease is still held. */
  private readonly completing = new Map<string, Running>();
  private readonly buffer: ClaimedTask[] = [];
  private readonly log: Logger;
  private workerId: string | null = null;
  private startedAt = 0;
  private completed = 0;
  private failed = 0;
  private stopping = false;
  private loopDone: Promise<void> = Promise.resolve();
  private claimAbort = new AbortController();
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private slotWaiters: Array<() => void> = [];
  private stopPromise: Promise<WorkerSummary> | null = null;
  private signalHandler: (() => void) | null = null;
  /** The server's lease, from registration. */
  private leaseMs = 30_000;
  /** What every task's context calls back into: made once, so a context costs one object. */
  private readonly contextActions: ContextActions = {
    progress: async (task, entry, value) => {
      const ok = await this.options.transport.progress({ ...this.ref(task), progress: value });
      if (!ok) this.markLost(entry, 'the lease was lost');
    },
    setState: (state) => this.options.transport.setState({ workerId: this.workerId!, state }),
  };

  constructor(opts: WorkerOptions) {
    this.options = {
      concurrency: 10,
      prefetch: 0,
      machineId: process.env.GAFFER_MACHINE_ID ?? hostname(),
      heartbeatMs: 10_000,
      claimWaitMs: 20_000,
      shutdownGraceMs: 30_000,
      handleSignals: false,
      version: VERSION,
      ...opts,
    };
    this.log = opts.logger ?? createLogger({ name: 'gaffer-worker' });
  }

  /** Registers the handler of a task type; a payload that fails `schema` fails the task as non-retryable. */
  handle<S extends z.ZodType>(type: string, def: HandlerDefinition<S> & { schema: S }): this;
  /** Without a schema the payload is not checked: the handler states the type it expects. */
  // biome-ignore lint/suspicious/noExplicitAny: an unchecked payload is whatever the handler declares
  handle<P = any>(
    type: string,
    def: ((payload: P, ctx: TaskContext) => unknown) | { handler: (payload: P, ctx: TaskContext) => unknown },
  ): this;
  handle(type: string, def: HandlerDefinition | HandlerDefinition['handler']): this {
    const d = typeof def === 'function' ? { handler: def } : def;
    this.handlers.set(type, d as unknown as HandlerDefinition);
    return this;
  }

  get id(): string | null {
    return this.workerId;
  }

  get types(): string[] {
    return [...this.handlers.keys()];
  }

  summary(): WorkerSummary {
    const processed = this.completed + this.failed;
    return {
      workerId: this.workerId,
      uptimeMs: this.startedAt ? Date.now() - this.startedAt : 0,
      processed,
      completed: this.completed,
      failed: this.failed,
      successRate: processed === 0 ? 1 : this.completed / processed,
      running: this.running.size,
    };
  }

  /** Registers and starts claiming. Resolves once registered. */
  async start(): Promise<void> {
    if (this.handlers.size === 0)
      throw new Error('register at least one handler with worker.handle(type, fn) before start()');
    this.startedAt = Date.now();
    await this.register();
    this.log.info(
      {
        event: 'worker_startup',
        workerId: this.workerId,
        types: this.types,
        concurrency: this.options.concurrency,
      },
      'worker started',
    );
    this.heartbeatTimer = setInterval(() => void this.beat(), this.options.heartbeatMs);
    this.heartbeatTimer.unref();
    if (this.options.handleSignals) this.installSignalHandlers();
    this.loopDone = this.claimLoop();
  }

  /**
   * Claims and runs one assignment of a session: the task at `index`, or the next
   * free one (seed 002's `worker N <study>`). Registers first if needed.
   */
  async runSessionTask(sessionId: string, index?: number): Promise<ClaimedTask> {
    if (!this.workerId) {
      this.startedAt = Date.now();
      await this.register();
      this.heartbeatTimer = setInterval(() => void this.beat(), this.options.heartbeatMs);
      this.heartbeatTimer.unref();
    }
    const task = await this.options.transport.claimSessionTask({
      workerId: this.workerId!,
      sessionId,
      index,
    });
    this.log.info(
      {
        event: 'task_claimed',
        taskId: task.id,
        type: task.type,
        sessionId,
        index: task.sessionIndex,
        workerId: this.workerId,
        attempt: task.attempt,
      },
      'assignment claimed',
    );
    await this.run(task);
    return task;
  }

  private async register(): Promise<void> {
    const reg = await this.options.transport.register({
      machineId: this.options.machineId,
      name: this.options.name,
      hostname: hostname(),
      pid: process.pid,
      version: this.options.version,
      types: this.types,
      queues: this.options.queues,
      concurrency: this.options.concurrency,
      labels: this.options.labels,
    });
    this.workerId = reg.workerId;
    this.leaseMs = reg.leaseMs;
    // Heartbeat well inside the lease so one missed beat does not lose tasks.
    this.options.heartbeatMs = Math.min(this.options.heartbeatMs, Math.floor(reg.leaseMs / 3));
    this.log.info(
      { event: 'worker_registered', workerId: this.workerId, machineId: this.options.machineId },
      'registered',
    );
  }

  private freeSlots(): number {
    return this.options.concurrency + this.options.prefetch - this.running.size - this.buffer.length;
  }

  /**
   * Whether to claim now. Completions are group-committed after the slot is freed, so the
   * next claim overlaps them; a full load of completions in flight is the limit. While
   * prefetched tasks still wait here, claims wait for half the room, so they come in batches.
   */
  private shouldClaim(): boolean {
    const room = this.options.concurrency + this.options.prefetch;
    if (this.completing.size >= 2 * room) return false;
    const free = this.freeSlots();
    return this.buffer.length === 0 ? free > 0 : free >= Math.ceil(room / 2);
  }

  private wakeClaimer(): void {
    const waiters = this.slotWaiters;
    this.slotWaiters = [];
    for (const w of waiters) w();
  }

  private async claimLoop(): Promise<void> {
    let backoff = 100;
    while (!this.stopping) {
      if (!this.shouldClaim()) {
        await new Promise<void>((r) => this.slotWaiters.push(r));
        continue;
      }
      try {
        const tasks = await this.options.transport.claim({
          workerId: this.workerId!,
          types: this.types,
          queues: this.options.queues,
          limit: this.freeSlots(),
          waitMs: this.options.claimWaitMs,
          signal: this.claimAbort.signal,
        });
        backoff = 100;
        if (this.stopping) {
          await this.options.transport.handBack(tasks.map((t) => this.ref(t)));
          break;
        }
        if (this.log.isLevelEnabled('info')) {
          for (const t of tasks) {
            this.log.info(
              {
                event: 'task_claimed',
                taskId: t.id,
                type: t.type,
                sessionId: t.sessionId ?? undefined,
                workerId: this.workerId,
                attempt: t.attempt,
              },
              'task claimed',
            );
          }
        }
        this.buffer.push(...tasks);
        this.dispatch();
      } catch (err) {
        if (this.stopping) break;
        const code = (err as { code?: string }).code;
        if (code === 'worker_not_live') {
          this.log.warn(
            { event: 'worker_stale', workerId: this.workerId },
            'worker went stale; registering again',
          );
          await this.reRegister();
          continue;
        }
        this.log.warn({ event: 'claim_error', err: String(err) }, 'claim failed; retrying');
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 5000);
      }
    }
  }

  private async reRegister(): Promise<void> {
    for (const r of this.running.values()) {
      r.lost = true;
      controllerOf(r).abort(new Error('worker went stale; its leases lapsed'));
    }
    try {
      await this.register();
    } catch (err) {
      this.log.warn({ event: 'register_error', err: String(err) }, 'register failed; retrying');
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  private dispatch(): void {
    while (this.running.size < this.options.concurrency && this.buffer.length > 0 && !this.stopping) {
      const task = this.buffer.shift()!;
      void this.run(task);
    }
  }

  private ref(t: ClaimedTask): AttemptRef {
    return { taskId: t.id, attempt: t.attempt, workerId: this.workerId ?? undefined };
  }

  private async run(task: ClaimedTask): Promise<void> {
    const def = this.handlers.get(task.type);
    const entry: Running = { task, controller: null, lost: false };
    this.running.set(task.id, entry);
    const began = Date.now();
    // The task's logger is made on first use: a pino child per task costs more than a no-op handler.
    let taskLog: Logger | undefined;
    const log = () =>
      (taskLog ??= this.log.child({
        taskId: task.id,
        type: task.type,
        sessionId: task.sessionId ?? undefined,
        workerId: this.workerId,
        attempt: task.attempt,
      }));
    if (task.timeoutMs) {
      entry.timer = setTimeout(
        () =>
          controllerOf(entry).abort(new TimeoutAbort(`task ran past its timeout of ${task.timeoutMs} ms`)),
        task.timeoutMs,
      );
    }
    let outcome: 'completed' | 'failed' | 'lost';
    try {
      if (!def) throw new NonRetryableError(`this worker has no handler for task type ${task.type}`);
      let payload: unknown = task.payload;
      if (def.schema) {
        const parsed = def.schema.safeParse(task.payload);
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          const where = issue?.path.length ? issue.path.join('.') : 'payload';
          throw new NonRetryableError(
            `payload is invalid at ${where}: ${issue?.message ?? 'does not match the schema'}`,
          );
        }
        payload = parsed.data;
      }
      const result = await def.handler(payload, this.context(task, entry, log));
      if (entry.lost) outcome = 'lost';
      else {
        const applied = this.reportCompletion(task, toJson(result), log);
        this.release(task, entry);
        const ok = await applied;
        outcome = ok ? 'completed' : 'lost';
      }
    } catch (err) {
      if (entry.lost) outcome = 'lost';
      else {
        const error = toTaskError(err, entry.controller?.signal);
        const ok = await this.options.transport.fail({ ...this.ref(task), error }).catch((e: unknown) => {
          log().warn(
            { event: 'report_error', err: String(e) },
            'could not report the failure; the lease will lapse',
          );
          return false;
        });
        outcome = ok ? 'failed' : 'lost';
        if (ok)
          log().warn(
            {
              event: 'task_failed',
              error: error.message,
              kind: error.kind ?? 'failed',
              retryable: error.retryable !== false,
              durationMs: Date.now() - began,
            },
            'task failed',
          );
      }
    } finally {
      if (entry.timer) clearTimeout(entry.timer);
      this.running.delete(task.id);
      this.completing.delete(task.id);
    }
    if (outcome === 'completed') {
      this.completed++;
      if (this.log.isLevelEnabled('info')) {
        log().info({ event: 'task_completed', durationMs: Date.now() - began }, 'task completed');
      }
    } else if (outcome === 'failed') this.failed++;
    else log().warn({ event: 'lease_lost' }, 'the lease was lost; the result was not applied');
    this.wakeClaimer();
    this.dispatch();
  }

  /** The handler is done: its slot takes the next task while the completion commits. */
  /**
   * Reports a handler's success; resolves false when the attempt no longer holds the task. A
   * report lost to a database or network blip is sent again (the attempt number fences a repeat)
   * until the lease would lapse: a success must not turn into a failed attempt, nor, on the last
   * attempt, a dead letter. Any other error rejects, and the attempt fails with it.
   */
  private async reportCompletion(task: ClaimedTask, result: Json, log: () => Logger): Promise<boolean> {
    const giveUpAt = Date.now() + this.leaseMs;
    for (let delay = 100; ; delay = Math.min(delay * 2, 2000)) {
      try {
        return await this.options.transport.complete({ ...this.ref(task), seq: task.seq, result });
      } catch (err) {
        const transient =
          isConnectionError(err) || (err instanceof GafferError && err.code === 'unavailable');
        if (!transient) throw err;
        if (Date.now() + delay >= giveUpAt) {
          log().warn(
            { event: 'report_error', err: String(err) },
            'could not report the completion; the lease will lapse',
          );
          return false;
        }
        await sleep(delay);
      }
    }
  }

  private release(task: ClaimedTask, entry: Running): void {
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = undefined;
    this.running.delete(task.id);
    this.completing.set(task.id, entry);
    this.wakeClaimer();
    this.dispatch();
  }

  private context(task: ClaimedTask, entry: Running, log: () => Logger): TaskContext {
    return new HandlerContext(this.contextActions, task, entry, log);
  }

  private markLost(entry: Running, why: string): void {
    if (entry.lost) return;
    entry.lost = true;
    controllerOf(entry).abort(new LeaseLostAbort(why));
  }

  private async beat(): Promise<void> {
    if (!this.workerId) return;
    try {
      // Everything this worker holds, prefetched tasks included: a heartbeat renews only what it names.
      const held = [
        ...[...this.running.values(), ...this.completing.values()].map((r) => this.ref(r.task)),
        ...this.buffer.map((t) => this.ref(t)),
      ];
      const s = this.summary();
      const res = await this.options.transport.heartbeat({
        workerId: this.workerId,
        held,
        stats: {
          processed: s.processed,
          failed: s.failed,
          startedAt: new Date(this.startedAt).toISOString(),
        },
      });
      for (const c of res.cancelled) {
        const r = this.running.get(c.taskId);
        if (r && r.task.attempt === c.attempt && !r.controller?.signal.aborted) {
          controllerOf(r).abort(new CancelAbort('the task was cancelled'));
        }
      }
      for (const l of res.lost) {
        const r = this.running.get(l.taskId);
        if (r && r.task.attempt === l.attempt)
          this.markLost(r, 'the lease lapsed or the task was taken away');
      }
      if (!res.live && !this.stopping) {
        this.log.warn({ event: 'worker_stale', workerId: this.workerId }, 'server says this worker is stale');
        await this.reRegister();
      }
    } catch (err) {
      this.log.warn({ event: 'heartbeat_error', err: String(err) }, 'heartbeat failed');
    }
  }

  private installSignalHandlers(): void {
    const handler = () => {
      this.log.info({ event: 'worker_shutdown_requested' }, 'stopping: finishing running tasks');
      void this.stop().then((s) => {
        process.stderr.write(formatSummary(s));
      });
    };
    this.signalHandler = handler;
    process.once('SIGTERM', handler);
    process.once('SIGINT', handler);
  }

  /**
   * Graceful shutdown: stop claiming, hand back unstarted tasks at once, let
   * running handlers finish within the grace period, abort and fail the rest
   * (retryable), deregister, and return the summary.
   */
  stop(): Promise<WorkerSummary> {
    if (this.stopPromise) return this.stopPromise;
    this.stopPromise = (async () => {
      this.stopping = true;
      if (this.signalHandler) {
        process.off('SIGTERM', this.signalHandler);
        process.off('SIGINT', this.signalHandler);
      }
      this.claimAbort.abort();
      for (const w of this.slotWaiters) w();
      this.slotWaiters = [];
      const unstarted = this.buffer.splice(0);
      if (unstarted.length > 0 && this.workerId) {
        await this.options.transport.handBack(unstarted.map((t) => this.ref(t))).catch(() => {});
      }
      await this.loopDone;
      const deadline = Date.now() + this.options.shutdownGraceMs;
      while (this.running.size > 0 && Date.now() < deadline) await sleep(Math.min(50, deadline - Date.now()));
      for (const r of this.running.values())
        controllerOf(r).abort(new ShutdownAbort('the worker is shutting down'));
      const settle = Date.now() + 5000;
      while (this.running.size > 0 && Date.now() < settle) await sleep(20);
      if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
      if (this.workerId) await this.options.transport.deregister({ workerId: this.workerId }).catch(() => {});
      await this.options.transport.close();
      const summary = this.summary();
      this.log.info({ event: 'worker_shutdown', ...summary }, 'worker stopped');
      return summary;
    })();
    return this.stopPromise;
  }
}

interface ContextActions {
  /** Records progress; an attempt that lost its lease is aborted. */
  progress(task: ClaimedTask, entry: Running, value: Json): Promise<void>;
  setState(state: Json): Promise<void>;
}

/** What a handler gets with its payload: one object per task, its methods on the prototype. */
class HandlerContext implements TaskContext {
  readonly attempt: number;
  readonly workerId: string;

  constructor(
    private readonly actions: ContextActions,
    readonly task: ClaimedTask,
    private readonly entry: Running,
    private readonly logger: () => Logger,
  ) {
    this.attempt = task.attempt;
    this.workerId = task.workerId;
  }

  get signal(): AbortSignal {
    return controllerOf(this.entry).signal;
  }

  get log(): Logger {
    return this.logger();
  }

  progress(value: Json): Promise<void> {
    return this.actions.progress(this.task, this.entry, value);
  }

  setState(state: Json): Promise<void> {
    return this.actions.setState(state);
  }
}

class CancelAbort extends Error {
  override name = 'CancelledError';
}
class TimeoutAbort extends Error {
  override name = 'TimeoutError';
}
class LeaseLostAbort extends Error {
  override name = 'LeaseLostError';
}
class ShutdownAbort extends Error {
  override name = 'ShutdownError';
}

function toTaskError(err: unknown, signal: AbortSignal | undefined): TaskError {
  const reason = signal?.aborted ? signal.reason : undefined;
  if (reason instanceof CancelAbort)
    return { message: reason.message, name: 'CancelledError', kind: 'cancelled' };
  if (reason instanceof TimeoutAbort)
    return { message: reason.message, name: 'TimeoutError', retryable: true, kind: 'timeout' };
  if (reason instanceof ShutdownAbort)
    return { message: reason.message, name: 'ShutdownError', retryable: true };
  const e = err instanceof Error ? err : new Error(String(err));
  const retryable = !(e instanceof NonRetryableError) && (e as { retryable?: boolean }).retryable !== false;
  return { message: e.message.slice(0, 4000), name: e.name, retryable, stack: e.stack?.slice(0, 4000) };
}

function toJson(v: unknown): Json {
  if (v === undefined) return null;
  return JSON.parse(JSON.stringify(v)) as Json;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)));
}

export function formatSummary(s: WorkerSummary): string {
  const up = Math.round(s.uptimeMs / 1000);
  return `gaffer worker ${s.workerId ?? '-'} stopped: uptime ${up}s, processed ${s.processed}, completed ${s.completed}, failed ${s.failed}, success rate ${(s.successRate * 100).toFixed(1)}%\n`;
}
