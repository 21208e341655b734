import { hostname } from 'node:os';
import type { z } from 'zod';
import { createLogger, type Logger } from '../engine/logger.js';
import type { AttemptRef, ClaimedTask } from '../store/types.js';
import { type AttemptHost, runAttempt } from './attempt.js';
import { Claimer, type ClaimerHost } from './claimer.js';
import {
  type ContextActions,
  controllerOf,
  LeaseLostAbort,
  lazyTaskLogger,
  type Running,
  ShutdownAbort,
  sleep,
  TimeoutAbort,
} from './handler-context.js';
import { Heartbeat, type HeartbeatHost } from './heartbeat.js';
import { completeOnCallerTransaction } from './in-transaction.js';
import { LoopLagMonitor } from './loop-lag.js';
import { type ResolvedWorkerOptions, resolveWorkerOptions } from './options.js';
import { type Outcome, traceTask } from './tracing.js';
import {
  formatSummary,
  type HandlerDefinition,
  type TaskContext,
  type WorkerOptions,
  type WorkerSummary,
} from './types.js';
import { waitActions } from './waits.js';

export type { HandlerDefinition, TaskContext, WorkerOptions, WorkerSummary } from './types.js';
export { formatSummary } from './types.js';

/** Runs handlers for claimed tasks; one handler API over either transport. */
export class Worker {
  readonly options: ResolvedWorkerOptions;
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
  private readonly claimer: Claimer;
  private readonly heartbeat: Heartbeat;
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
    completeInTransaction: (task, entry, client, result) =>
      completeOnCallerTransaction(
        this.options.transport,
        { ...this.ref(task), seq: task.seq },
        entry,
        client,
        result,
        (why) => this.markLost(entry, why),
      ),
    ...waitActions(
      () => this.options.transport,
      () => this.workerId ?? undefined,
    ),
  };

  private readonly attemptHost: AttemptHost;

  constructor(opts: WorkerOptions) {
    this.options = resolveWorkerOptions(opts);
    this.log = opts.logger ?? createLogger({ name: 'gaffer-worker' });
    this.attemptHost = {
      transport: this.options.transport,
      contextActions: this.contextActions,
      leaseMs: () => this.leaseMs,
      workerId: () => this.workerId ?? undefined,
      ref: (task) => this.ref(task),
      release: (task, entry) => this.release(task, entry),
    };
    const { transport, heartbeatThread } = this.options;
    this.heartbeat = new Heartbeat(
      transport,
      this.heartbeatHost(),
      this.log,
      new LoopLagMonitor(),
      heartbeatThread ? (transport.threadConnection?.() ?? null) : null,
    );
    this.claimer = new Claimer(
      this.options.transport,
      this.claimerHost(),
      this.options.claimWaitMs,
      this.log,
    );
  }

  private claimerHost(): ClaimerHost {
    return {
      workerId: () => this.workerId,
      types: () => this.types,
      queues: this.options.queues,
      shouldClaim: () => this.shouldClaim(),
      freeSlots: () => this.freeSlots(),
      accept: (tasks) => {
        this.buffer.push(...tasks);
        // The heartbeat thread must know them before a handler can block this loop.
        this.heartbeat.sync();
        this.dispatch();
      },
      handBack: (tasks) => this.options.transport.handBack(tasks.map((t) => this.ref(t))),
      onNotLive: () => this.reRegister(),
    };
  }

  private heartbeatHost(): HeartbeatHost {
    return {
      workerId: () => this.workerId,
      held: () => [
        ...[...this.running.values(), ...this.completing.values()]
          .filter((r) => !r.completedInTransaction)
          .map((r) => this.ref(r.task)),
        ...this.buffer.map((t) => this.ref(t)),
      ],
      stats: () => ({
        processed: this.completed + this.failed,
        failed: this.failed,
        startedAt: new Date(this.startedAt).toISOString(),
      }),
      running: (taskId) => this.running.get(taskId),
      markLost: (entry, why) => this.markLost(entry, why),
      onStale: async () => {
        if (this.stopping) return;
        this.log.warn({ event: 'worker_stale', workerId: this.workerId }, 'server says this worker is stale');
        await this.reRegister();
      },
    };
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
    await this.heartbeat.start(this.options.heartbeatMs);
    if (this.options.handleSignals) this.installSignalHandlers();
    this.claimer.start();
  }

  /**
   * Claims and runs one assignment of a session: the task at `index`, or the next
   * free one (seed 002's `worker N <study>`). Registers first if needed.
   */
  async runSessionTask(sessionId: string, index?: number): Promise<ClaimedTask> {
    if (!this.workerId) {
      this.startedAt = Date.now();
      await this.register();
      await this.heartbeat.start(this.options.heartbeatMs);
    }
    const task = await this.options.transport.claimSessionTask({
      workerId: this.workerId!,
      sessionId,
      index,
    });
    const { id: taskId, type, sessionIndex, attempt } = task;
    const fields = { taskId, type, sessionId, index: sessionIndex, workerId: this.workerId, attempt };
    this.log.info({ event: 'task_claimed', ...fields }, 'assignment claimed');
    this.running.set(task.id, { task, controller: null, lost: false });
    this.heartbeat.sync();
    await this.run(task);
    return task;
  }

  private async register(): Promise<void> {
    const { machineId, name, version, queues, concurrency, labels } = this.options;
    const reg = await this.options.transport.register({
      ...{ machineId, name, version, queues, concurrency, labels, types: this.types },
      ...{ hostname: hostname(), pid: process.pid },
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

  private run(task: ClaimedTask): Promise<void> {
    return traceTask(task, () => this.execute(task));
  }

  private async execute(task: ClaimedTask): Promise<Outcome> {
    const def = this.handlers.get(task.type);
    const entry: Running = { task, controller: null, lost: false };
    this.running.set(task.id, entry);
    const began = Date.now();
    const log = lazyTaskLogger(this.log, task, this.workerId);
    if (task.timeoutMs) {
      entry.timer = setTimeout(
        () =>
          controllerOf(entry).abort(new TimeoutAbort(`task ran past its timeout of ${task.timeoutMs} ms`)),
        task.timeoutMs,
      );
    }
    let outcome: Outcome;
    try {
      outcome = await runAttempt(this.attemptHost, def, task, entry, log);
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
    else if (outcome === 'waiting') log().debug({ event: 'task_waiting' }, 'task waits; attempt ended');
    else if (outcome === 'lost')
      log().warn({ event: 'lease_lost' }, 'the lease was lost; the result was not applied');
    this.claimer.wake();
    this.dispatch();
    return outcome;
  }

  private release(task: ClaimedTask, entry: Running): void {
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = undefined;
    this.running.delete(task.id);
    this.completing.set(task.id, entry);
    this.claimer.wake();
    this.dispatch();
  }

  private markLost(entry: Running, why: string): void {
    // Completed on the handler's transaction: a heartbeat that finds it no longer running is no loss.
    if (entry.lost || entry.completedInTransaction) return;
    entry.lost = true;
    controllerOf(entry).abort(new LeaseLostAbort(why));
  }

  private installSignalHandlers(): void {
    const handler = () => {
      this.log.info({ event: 'worker_shutdown_requested' }, 'stopping: finishing running tasks');
      void this.stop().then((s) => process.stderr.write(formatSummary(s)));
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
      const claimerDone = this.claimer.stop();
      const unstarted = this.buffer.splice(0);
      if (unstarted.length > 0 && this.workerId) {
        await this.options.transport.handBack(unstarted.map((t) => this.ref(t))).catch(() => {});
      }
      await claimerDone;
      await this.whileRunning(this.options.shutdownGraceMs, 50);
      for (const r of this.running.values())
        controllerOf(r).abort(new ShutdownAbort('the worker is shutting down'));
      await this.whileRunning(5000, 20);
      await this.heartbeat.stop();
      if (this.workerId) await this.options.transport.deregister({ workerId: this.workerId }).catch(() => {});
      await this.options.transport.close();
      const summary = this.summary();
      this.log.info({ event: 'worker_shutdown', ...summary }, 'worker stopped');
      return summary;
    })();
    return this.stopPromise;
  }

  /** Waits up to `ms` for running handlers to end, checking every `every` ms. */
  private async whileRunning(ms: number, every: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.running.size > 0 && Date.now() < deadline)
      await sleep(Math.min(every, deadline - Date.now()));
  }
}
