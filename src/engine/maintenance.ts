import type { SyncAlertsResult } from '../store/observability.js';
import type { Store } from '../store/store.js';
import type { PruneResult, RescueResult } from '../store/types.js';
import type { AlertService } from './alerts.js';
import type { Logger } from './logger.js';
import { silentLogger } from './logger.js';

export interface MaintenanceOptions {
  /** How often stale workers and lapsed leases are swept. */
  sweepIntervalMs: number;
  /** How often retention runs; 0 turns retention off. */
  retentionIntervalMs: number;
  /** Finished tasks, closed sessions, events and stale workers older than this are removed. */
  retentionMs: number;
  retentionBatch: number;
  logger?: Logger;
  /** Alert rules evaluated by the leader every `alerts.intervalMs` (see alerts.ts); omitted: no alerts. */
  alerts?: AlertService | null;
}

export const DEFAULT_MAINTENANCE: MaintenanceOptions = {
  sweepIntervalMs: 1000,
  retentionIntervalMs: 10 * 60_000,
  retentionMs: 7 * 24 * 3600_000,
  retentionBatch: 1000,
};

export interface SweepResult extends RescueResult {
  staleWorkers: string[];
  /** Signal waits that timed out: dead-lettered (policy fail) or made runnable (policy run). */
  waitsExpired: number;
}

/**
 * The leader-only background work: marking silent workers stale, lapsing leases
 * (which returns tasks to the queue or dead-letters them), and retention. Every
 * node may run this service; an advisory lock lets one node act per round.
 */
export class MaintenanceService {
  private sweepTimer: NodeJS.Timeout | null = null;
  private retentionTimer: NodeJS.Timeout | null = null;
  private alertTimer: NodeJS.Timeout | null = null;
  private readonly log: Logger;
  private running: Promise<unknown> = Promise.resolve();
  private readonly queued = new Set<string>();
  readonly options: MaintenanceOptions;
  onSweep: ((r: SweepResult) => void) | null = null;
  onPrune: ((r: PruneResult) => void) | null = null;

  constructor(
    private readonly store: Store,
    opts: Partial<MaintenanceOptions> = {},
  ) {
    this.options = { ...DEFAULT_MAINTENANCE, ...opts };
    this.log = opts.logger ?? silentLogger;
  }

  start(): void {
    if (this.sweepTimer) return;
    this.sweepTimer = setInterval(
      () => this.schedule('sweep', () => this.sweep()),
      this.options.sweepIntervalMs,
    );
    this.sweepTimer.unref();
    if (this.options.retentionIntervalMs > 0) {
      this.retentionTimer = setInterval(
        () => this.schedule('retention', () => this.retain()),
        this.options.retentionIntervalMs,
      );
      this.retentionTimer.unref();
    }
    const alerts = this.options.alerts;
    if (alerts) {
      this.alertTimer = setInterval(
        () => this.schedule('alerts', () => this.evaluateAlerts()),
        alerts.intervalMs,
      );
      this.alertTimer.unref();
    }
  }

  async stop(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    if (this.alertTimer) clearInterval(this.alertTimer);
    this.sweepTimer = null;
    this.retentionTimer = null;
    this.alertTimer = null;
    await this.running.catch(() => {});
    await this.options.alerts?.idle();
  }

  /**
   * Rounds never overlap on one node, and a kind of round that is still queued is
   * not queued again: when the database is slow, rounds are skipped, not piled up.
   */
  private schedule(kind: 'sweep' | 'retention' | 'alerts', fn: () => Promise<unknown>): void {
    if (this.queued.has(kind)) return;
    this.queued.add(kind);
    const run = () => {
      this.queued.delete(kind);
      return fn();
    };
    this.running = this.running.then(run, run).catch((err: unknown) => {
      this.log.warn({ event: 'maintenance_error', err: String(err) }, 'maintenance round failed; will retry');
    });
  }

  /** One sweep; returns null if another node holds the lock. */
  async sweep(now?: Date): Promise<SweepResult | null> {
    const out = await this.store.tryLeadership('sweep', async () => {
      const staleWorkers = await this.store.markStaleWorkers({ now });
      const rescue = await this.store.rescueLeases({ now });
      const waits = await this.store.expireWaits({ now });
      await this.store.foldCounts();
      return { ...rescue, staleWorkers, waitsExpired: waits.failed.length + waits.run.length };
    });
    if (out) {
      // One summary per round that changed something; the per-worker worker_stale and per-task
      // lease_lost lines come from the store's events (engine/event-log.ts), with their ids.
      if (out.staleWorkers.length + out.lost + out.timedOut + out.waitsExpired > 0) {
        this.log.info({ event: 'maintenance_run', job: 'sweep', ...out }, 'sweep returned lapsed work');
      }
      this.onSweep?.(out);
    }
    return out;
  }

  /** One evaluation of the alert rules (leader only); null without alerts or when another node leads. */
  async evaluateAlerts(): Promise<SyncAlertsResult | null> {
    const out = (await this.options.alerts?.evaluate()) ?? null;
    if (out && out.fired.length + out.resolved.length > 0) {
      this.log.info(
        { event: 'maintenance_run', job: 'alerts', fired: out.fired.length, resolved: out.resolved.length },
        'alerts evaluated',
      );
    }
    return out;
  }

  async retain(now?: Date): Promise<PruneResult | null> {
    const out = await this.store.tryLeadership('retention', () =>
      this.store.prune({
        olderThanMs: this.options.retentionMs,
        batchSize: this.options.retentionBatch,
        now,
      }),
    );
    if (out) {
      this.log.info({ event: 'maintenance_run', job: 'retention', ...out }, 'retention removed old rows');
      this.onPrune?.(out);
    }
    return out;
  }
}
