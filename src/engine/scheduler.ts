import type { FireSchedulesResult } from '../store/schedule-types.js';
import type { Store } from '../store/store.js';
import type { Logger } from './logger.js';
import { silentLogger } from './logger.js';

export interface SchedulerOptions {
  /** The longest wait between two rounds; a round also runs when the earliest schedule comes due. */
  pollIntervalMs: number;
  /** A tick at most this late is on time and always runs; later ones follow the schedule's catch-up policy. */
  graceMs: number;
  logger?: Logger;
}

export const DEFAULT_SCHEDULER: SchedulerOptions = { pollIntervalMs: 1000, graceMs: 5000 };

/** Below this a timer would only spin: a round always waits at least this long. */
const MIN_WAIT_MS = 10;

/**
 * Fires the store's due schedules. Every server runs one, not only a leader: a tick's task carries
 * the tick in its idempotency key and each schedule is locked while it fires, so servers firing at
 * once create each tick once, and a schedule keeps ticking while any server is up.
 */
export class SchedulerService {
  private timer: NodeJS.Timeout | null = null;
  private round: Promise<unknown> | null = null;
  private stopped = true;
  private readonly log: Logger;
  readonly options: SchedulerOptions;
  onRound: ((r: FireSchedulesResult) => void) | null = null;

  constructor(
    private readonly store: Store,
    opts: Partial<SchedulerOptions> = {},
  ) {
    this.options = { ...DEFAULT_SCHEDULER, ...opts };
    this.log = opts.logger ?? silentLogger;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.wait(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.round?.catch(() => {});
  }

  /** One round now (tests pass `now` to move time instead of sleeping). */
  async tick(now?: Date): Promise<FireSchedulesResult> {
    const out = await this.store.fireDueSchedules({ now, graceMs: this.options.graceMs });
    for (const f of out.fired) {
      if (f.created.length + f.skipped > 0) {
        this.log.info(
          {
            event: 'schedule_fired',
            schedule: f.name,
            created: f.created.length,
            existing: f.existing,
            skipped: f.skipped,
          },
          'schedule fired',
        );
      }
    }
    this.onRound?.(out);
    return out;
  }

  private wait(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => this.run(), ms);
    this.timer.unref();
  }

  private run(): void {
    this.timer = null;
    const round = this.tick().then(
      (out) => {
        const untilDue = out.nextDueAt ? out.nextDueAt.getTime() - Date.now() : Number.POSITIVE_INFINITY;
        return Math.max(MIN_WAIT_MS, Math.min(this.options.pollIntervalMs, untilDue));
      },
      (err: unknown) => {
        this.log.warn({ event: 'scheduler_error', err: String(err) }, 'scheduler round failed; will retry');
        return this.options.pollIntervalMs;
      },
    );
    this.round = round;
    void round.then((ms) => {
      this.round = null;
      this.wait(ms);
    });
  }
}
