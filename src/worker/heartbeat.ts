import { existsSync } from 'node:fs';
import { Worker as Thread } from 'node:worker_threads';
import type { Logger } from '../engine/logger.js';
import type { AttemptRef, HeartbeatParams, HeartbeatResult } from '../store/types.js';
import { CancelAbort, controllerOf, type Running } from './handler-context.js';
import type { ThreadConnection, ThreadMessage, ThreadReply } from './heartbeat-thread-types.js';
import type { LoopLagMonitor } from './loop-lag.js';
import type { WorkerTransport } from './transport.js';

/** What the heartbeat needs of its worker. */
export interface HeartbeatHost {
  workerId(): string | null;
  /** Everything the worker holds, prefetched tasks included: a heartbeat renews only what it names. */
  held(): AttemptRef[];
  stats(): NonNullable<HeartbeatParams['stats']>;
  /** The running attempt of a task, if this worker runs it. */
  running(taskId: string): Running | undefined;
  markLost(entry: Running, why: string): void;
  /** The server says the worker is stale: register again (unless stopping). */
  onStale(): Promise<void>;
}

/** How often the main loop tells the heartbeat thread what it holds (and at once when it claims). */
const SYNC_MS = 100;
/** How long a worker waits for its heartbeat thread to connect before beating on its own loop. */
const THREAD_START_MS = 10_000;

/**
 * The worker's heartbeat, a service with a start/stop contract: every `intervalMs` it renews the
 * leases the worker names, aborts the handlers of cancelled tasks and of attempts it no longer
 * holds, and registers again when the server says the worker went stale. With a thread connection
 * the beats are sent from a worker thread (heartbeat-thread.ts), so a handler that blocks the event
 * loop does not stop them; without one (embedded store, a caller's own pool) they run on this loop.
 */
export class Heartbeat {
  private timer: NodeJS.Timeout | null = null;
  private syncTimer: NodeJS.Timeout | null = null;
  private thread: Thread | null = null;
  private intervalMs = 10_000;

  constructor(
    private readonly transport: WorkerTransport,
    private readonly host: HeartbeatHost,
    private readonly log: Logger,
    private readonly lag: LoopLagMonitor,
    private readonly connection: ThreadConnection | null,
  ) {}

  /** Whether beats come from a thread of their own. */
  get threaded(): boolean {
    return this.thread !== null;
  }

  /** Starts beating; with a thread, resolves once it is connected (or has failed and beats run here). */
  async start(intervalMs: number): Promise<void> {
    this.intervalMs = intervalMs;
    this.lag.start();
    if (this.timer || this.thread) this.setInterval(intervalMs);
    else if (this.connection) {
      // One beat from here while the thread boots, so the worker's liveness is known from the start.
      await Promise.all([this.beat(), this.startThread()]);
    } else this.startLoop();
  }

  private setInterval(intervalMs: number): void {
    if (this.thread) this.post({ type: 'interval', intervalMs });
    else if (this.timer) {
      clearInterval(this.timer);
      this.timer = null;
      this.startLoop();
    }
  }

  private startLoop(): void {
    this.timer = setInterval(() => void this.beat(), this.intervalMs);
    this.timer.unref();
  }

  /**
   * Work is claimed only once the thread is up: a handler that blocks this loop before the thread has
   * connected would otherwise lose its lease all the same.
   */
  private startThread(): Promise<void> {
    const thread = spawnHeartbeatThread({
      connection: this.connection!,
      intervalMs: this.intervalMs,
      shared: this.lag.shared,
    });
    this.thread = thread;
    thread.unref();
    const up = new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.fallBack(`not connected within ${THREAD_START_MS} ms`);
        resolve();
      }, THREAD_START_MS);
      thread.on('message', (m: ThreadReply) => {
        if (m.type === 'ready' || m.type === 'failed') {
          clearTimeout(timer);
          resolve();
        }
      });
      thread.on('error', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    thread.on('message', (m: ThreadReply) => this.onThreadMessage(m));
    thread.on('error', (err) => this.fallBack(String(err)));
    this.syncTimer = setInterval(() => this.sync(), SYNC_MS);
    this.syncTimer.unref();
    this.sync();
    return up;
  }

  private onThreadMessage(m: ThreadReply): void {
    if (m.type === 'result') {
      if (m.workerId === this.host.workerId()) void this.apply(m.result);
    } else if (m.type === 'error') {
      this.log.warn({ event: 'heartbeat_error', err: m.message }, 'heartbeat failed');
    } else if (m.type === 'failed') this.fallBack(m.message);
  }

  /** A thread that cannot connect must not leave the worker without heartbeats: beat from this loop. */
  private fallBack(why: string): void {
    if (!this.thread) return;
    this.log.warn(
      { event: 'heartbeat_thread_failed', err: why },
      'the heartbeat thread failed; heartbeats now run on the event loop',
    );
    void this.thread.terminate();
    this.thread = null;
    if (this.syncTimer) clearInterval(this.syncTimer);
    this.syncTimer = null;
    this.startLoop();
  }

  /** Tells the thread what the worker holds now; call it when tasks are claimed, before they run. */
  sync(): void {
    if (!this.thread) return;
    this.post({
      type: 'held',
      workerId: this.host.workerId(),
      held: this.host.held(),
      stats: this.host.stats(),
    });
  }

  private post(m: ThreadMessage): void {
    this.thread?.postMessage(m);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.syncTimer) clearInterval(this.syncTimer);
    this.syncTimer = null;
    this.lag.stop();
    const thread = this.thread;
    this.thread = null;
    if (!thread) return;
    // Let it close its connection; a thread that does not answer is terminated.
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 2000);
      thread.on('exit', () => {
        clearTimeout(t);
        resolve();
      });
      thread.postMessage({ type: 'stop' } satisfies ThreadMessage);
    });
    await thread.terminate();
  }

  /** One beat from this loop (no thread, or called directly). */
  async beat(): Promise<void> {
    const workerId = this.host.workerId();
    if (!workerId) return;
    try {
      const held = this.host.held();
      const res = await this.transport.heartbeat({
        workerId,
        held,
        stats: this.host.stats(),
        liveness: { eventLoopLagMs: this.lag.read(), heartbeatThread: false, held: held.length },
      });
      await this.apply(res);
    } catch (err) {
      this.log.warn({ event: 'heartbeat_error', err: String(err) }, 'heartbeat failed');
    }
  }

  private async apply(res: HeartbeatResult): Promise<void> {
    try {
      for (const c of res.cancelled) {
        const r = this.host.running(c.taskId);
        if (r && r.task.attempt === c.attempt && !r.controller?.signal.aborted) {
          controllerOf(r).abort(new CancelAbort('the task was cancelled'));
        }
      }
      for (const l of res.lost) {
        const r = this.host.running(l.taskId);
        if (r && r.task.attempt === l.attempt)
          this.host.markLost(r, 'the lease lapsed or the task was taken away');
      }
      if (!res.live) await this.host.onStale();
    } catch (err) {
      this.log.warn({ event: 'heartbeat_error', err: String(err) }, 'heartbeat failed');
    }
  }
}

/**
 * Starts heartbeat-thread.js next to this file. Run from the TypeScript sources (tests, `tsx`), it takes
 * the compiled one in dist/ if present, else registers tsx in the thread first: a worker thread does not
 * inherit the main thread's loader hooks.
 */
function spawnHeartbeatThread(workerData: unknown): Thread {
  const fromSource = import.meta.url.endsWith('.ts');
  if (!fromSource) return new Thread(new URL('./heartbeat-thread.js', import.meta.url), { workerData });
  // The compiled thread when there is one (the tests build dist/ from these sources): no compiler to load.
  const built = new URL('../../dist/worker/heartbeat-thread.js', import.meta.url);
  if (existsSync(built)) return new Thread(built, { workerData });
  const entry = new URL('./heartbeat-thread.ts', import.meta.url);
  let tsx = 'tsx/esm/api';
  try {
    tsx = import.meta.resolve(tsx);
  } catch {
    // resolved from the working directory instead
  }
  const boot = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Thread(boot, { eval: true, workerData });
}
