import type { Logger } from '../engine/logger.js';
import type { ClaimedTask } from '../store/types.js';
import { sleep } from './handler-context.js';
import type { WorkerTransport } from './transport.js';

/** What the claim loop needs of its worker. */
export interface ClaimerHost {
  workerId(): string | null;
  types(): string[];
  readonly queues: string[] | undefined;
  /** Whether to claim now, and how many. */
  shouldClaim(): boolean;
  freeSlots(): number;
  /** Claimed tasks to run; called only while the loop runs. */
  accept(tasks: ClaimedTask[]): void;
  /** Claimed after stop() began: hand them back unstarted. */
  handBack(tasks: ClaimedTask[]): Promise<void>;
  /** The server says the worker is not live: register again. */
  onNotLive(): Promise<void>;
}

/**
 * The worker's claim loop, a service with a start/stop contract: it long-polls for as many tasks
 * as the worker has room for, waits for a slot when it has none, and backs off on errors.
 */
export class Claimer {
  private stopped = false;
  private readonly abort = new AbortController();
  private slotWaiters: Array<() => void> = [];
  private done: Promise<void> = Promise.resolve();

  constructor(
    private readonly transport: WorkerTransport,
    private readonly host: ClaimerHost,
    private readonly claimWaitMs: number,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.done = this.loop();
  }

  /** A slot may have freed up. */
  wake(): void {
    const waiters = this.slotWaiters;
    this.slotWaiters = [];
    for (const w of waiters) w();
  }

  /** Ends the loop: a claim in flight is aborted; resolves once the loop has returned. */
  stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    this.wake();
    return this.done;
  }

  private async loop(): Promise<void> {
    let backoff = 100;
    while (!this.stopped) {
      if (!this.host.shouldClaim()) {
        await new Promise<void>((r) => this.slotWaiters.push(r));
        continue;
      }
      try {
        const tasks = await this.transport.claim({
          workerId: this.host.workerId()!,
          types: this.host.types(),
          queues: this.host.queues,
          limit: this.host.freeSlots(),
          waitMs: this.claimWaitMs,
          signal: this.abort.signal,
        });
        backoff = 100;
        if (this.stopped) {
          await this.host.handBack(tasks);
          break;
        }
        this.logClaims(tasks);
        this.host.accept(tasks);
      } catch (err) {
        if (this.stopped) break;
        if ((err as { code?: string }).code === 'worker_not_live') {
          this.log.warn(
            { event: 'worker_stale', workerId: this.host.workerId() },
            'worker went stale; registering again',
          );
          await this.host.onNotLive();
          continue;
        }
        this.log.warn({ event: 'claim_error', err: String(err) }, 'claim failed; retrying');
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 5000);
      }
    }
  }

  private logClaims(tasks: ClaimedTask[]): void {
    if (!this.log.isLevelEnabled('info')) return;
    for (const t of tasks) {
      this.log.info(
        {
          event: 'task_claimed',
          taskId: t.id,
          type: t.type,
          sessionId: t.sessionId ?? undefined,
          workerId: this.host.workerId(),
          attempt: t.attempt,
        },
        'task claimed',
      );
    }
  }
}
