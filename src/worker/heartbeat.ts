import type { Logger } from '../engine/logger.js';
import type { AttemptRef, HeartbeatParams } from '../store/types.js';
import { CancelAbort, controllerOf, type Running } from './handler-context.js';
import type { WorkerTransport } from './transport.js';

/** What the heartbeat needs of its worker. */
export interface HeartbeatHost {
  workerId(): string | null;
  /** Everything the worker holds, prefetched tasks included: a heartbeat renews only what it names. */
  held(): AttemptRef[];
  stats(): HeartbeatParams['stats'];
  /** The running attempt of a task, if this worker runs it. */
  running(taskId: string): Running | undefined;
  markLost(entry: Running, why: string): void;
  /** The server says the worker is stale: register again (unless stopping). */
  onStale(): Promise<void>;
}

/**
 * The worker's heartbeat, a service with a start/stop contract: every `intervalMs` it renews the
 * leases the worker names, aborts the handlers of cancelled tasks and of attempts it no longer
 * holds, and registers again when the server says the worker went stale.
 */
export class Heartbeat {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly transport: WorkerTransport,
    private readonly host: HeartbeatHost,
    private readonly log: Logger,
  ) {}

  start(intervalMs: number): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.beat(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async beat(): Promise<void> {
    const workerId = this.host.workerId();
    if (!workerId) return;
    try {
      const res = await this.transport.heartbeat({
        workerId,
        held: this.host.held(),
        stats: this.host.stats(),
      });
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
