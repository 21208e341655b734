import type { Logger } from '../engine/logger.js';
import type { AttemptRef, HeartbeatParams, HeartbeatResult } from '../store/types.js';
import { CancelAbort, controllerOf, type Running } from './handler-context.js';
import type { ThreadConnection, ThreadMessage } from './heartbeat-thread-types.js';
import type { LoopLagMonitor } from './loop-lag.js';
import { heartbeatThread, type SlotEvent } from './shared-thread.js';
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
  /** This worker's slot in the process's heartbeat thread (shared-thread.ts), while beats come from it. */
  private slot: number | null = null;
  private intervalMs = 10_000;
  /** Falls back to beats on this loop if the thread has not connected in time. */
  private connectTimer: NodeJS.Timeout | null = null;
  /** The last `held` message sent to the thread. */
  private lastSync = '';

  constructor(
    private readonly transport: WorkerTransport,
    private readonly host: HeartbeatHost,
    private readonly log: Logger,
    private readonly lag: LoopLagMonitor,
    private readonly connection: ThreadConnection | null,
  ) {}

  /** Whether beats come from a thread of their own. */
  get threaded(): boolean {
    return this.slot !== null;
  }

  /**
   * Starts beating. With a thread, resolves after one beat from this loop and does not wait for the
   * thread to connect: the thread boots and connects without this loop (150-280 ms, which held up a
   * worker's first claim and cost the 20k-task drain bench a fifth of its rate), it gets the held list
   * as soon as it listens, and beats at once when connected, long before a lease of the claims made
   * meanwhile could lapse, even if a handler blocks this loop from the first claim on.
   */
  async start(intervalMs: number): Promise<void> {
    this.intervalMs = intervalMs;
    this.lag.start();
    if (this.timer || this.slot !== null) this.setInterval(intervalMs);
    else if (this.connection) {
      this.startThread();
      // One beat from here while the thread boots, so the worker's liveness is known from the start.
      await this.beat();
    } else this.startLoop();
  }

  private setInterval(intervalMs: number): void {
    if (this.slot !== null) heartbeatThread.post({ type: 'interval', slot: this.slot, intervalMs });
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

  /** Attaches this worker to the process's heartbeat thread; beats fall back to this loop if it fails. */
  private startThread(): void {
    const timer = setTimeout(
      () => this.fallBack(`not connected within ${THREAD_START_MS} ms`),
      THREAD_START_MS,
    );
    timer.unref();
    this.connectTimer = timer;
    const slot = heartbeatThread.attach((e) => {
      if (e.type === 'ready' || e.type === 'failed' || e.type === 'crashed') clearTimeout(timer);
      this.onThreadMessage(e);
    });
    this.slot = slot;
    heartbeatThread.post({
      type: 'attach',
      slot,
      connection: this.connection!,
      intervalMs: this.intervalMs,
      shared: this.lag.shared,
    });
    this.syncTimer = setInterval(() => this.sync(), SYNC_MS);
    this.syncTimer.unref();
    this.sync();
  }

  private onThreadMessage(m: SlotEvent): void {
    if (m.type === 'result') {
      if (m.workerId === this.host.workerId()) void this.apply(m.result);
    } else if (m.type === 'error') {
      this.log.warn({ event: 'heartbeat_error', err: m.message }, 'heartbeat failed');
    } else if (m.type === 'failed' || m.type === 'crashed') this.fallBack(m.message);
  }

  /** A thread that cannot connect must not leave the worker without heartbeats: beat from this loop. */
  private fallBack(why: string): void {
    if (this.slot === null) return;
    this.log.warn(
      { event: 'heartbeat_thread_failed', err: why },
      'the heartbeat thread failed; heartbeats now run on the event loop',
    );
    void heartbeatThread.detach(this.slot);
    this.slot = null;
    if (this.syncTimer) clearInterval(this.syncTimer);
    this.syncTimer = null;
    this.startLoop();
  }

  /**
   * Tells the thread what the worker holds now; call it when tasks are claimed, before they run. Only
   * a change is sent (the thread renews the last list it got): an idle worker posts nothing, where 500
   * Workers in one process used to post 5,000 messages a second.
   */
  sync(): void {
    if (this.slot === null) return;
    const m: ThreadMessage = {
      type: 'held',
      slot: this.slot,
      workerId: this.host.workerId(),
      held: this.host.held(),
      stats: this.host.stats(),
    };
    const said = JSON.stringify(m);
    if (said === this.lastSync) return;
    this.lastSync = said;
    heartbeatThread.post(m);
  }

  async stop(): Promise<void> {
    if (this.connectTimer) clearTimeout(this.connectTimer);
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.syncTimer) clearInterval(this.syncTimer);
    this.syncTimer = null;
    this.lag.stop();
    const slot = this.slot;
    this.slot = null;
    if (slot !== null) await heartbeatThread.detach(slot);
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
