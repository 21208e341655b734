import type { Logger } from '../engine/logger.js';
import type { Store } from '../store/store.js';
import { snapshot } from './routes/stats.js';

export type LiveListener = (event: string, data: unknown) => void;

/** How long a burst of store events is gathered into one `change` event. */
const CHANGE_DELAY_MS = 150;

/**
 * One shared source for every live stream: it reads the overview snapshot once
 * a tick, whatever the number of open dashboards, and fans the snapshot out.
 * Between snapshots, the
 * store's in-process events (a task claimed, completed, failed, retried...)
 * become a `change` event, so screens refresh without waiting for the next tick.
 */
export class LiveFeed {
  private readonly listeners = new Set<LiveListener>();
  private timer: NodeJS.Timeout | null = null;
  private ticking = false;
  private stopped = false;
  private last: { event: string; data: unknown; at: number } | null = null;
  private unlistenStore: (() => void) | null = null;
  private changeTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    readonly intervalMs = 1000,
    readonly idleIntervalMs = 10_000,
  ) {}

  start(): void {
    this.stopped = false;
    // Work done through this process (HTTP workers, API calls) is announced at once, between snapshots.
    this.unlistenStore = this.store.onEvent(() => this.changed());
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.changeTimer) clearTimeout(this.changeTimer);
    this.timer = null;
    this.changeTimer = null;
    this.unlistenStore?.();
    this.unlistenStore = null;
    this.listeners.clear();
  }

  /** Coalesces a burst of store events into one `change` event a little later. */
  private changed(): void {
    if (this.stopped || this.listeners.size === 0 || this.changeTimer) return;
    this.changeTimer = setTimeout(() => {
      this.changeTimer = null;
      this.emit('change', { at: new Date().toISOString() }, false);
    }, CHANGE_DELAY_MS);
    this.changeTimer.unref();
  }

  /** Adds a listener; it gets the latest snapshot at once when one is fresh. Returns the unsubscribe. */
  subscribe(fn: LiveListener): () => void {
    this.listeners.add(fn);
    if (this.last && Date.now() - this.last.at < this.intervalMs * 2) fn(this.last.event, this.last.data);
    else if (!this.ticking) this.schedule(0);
    return () => this.listeners.delete(fn);
  }

  get subscribers(): number {
    return this.listeners.size;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), ms);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    this.timer = null;
    this.ticking = true;
    try {
      const snap = await snapshot(this.store);
      this.emit('snapshot', snap);
    } catch (err) {
      this.log.warn({ event: 'live_snapshot_failed', err: String(err) }, 'live snapshot failed');
      this.emit('unavailable', { detail: err instanceof Error ? err.message : String(err) });
    } finally {
      this.ticking = false;
    }
    this.schedule(this.listeners.size > 0 ? this.intervalMs : this.idleIntervalMs);
  }

  private emit(event: string, data: unknown, remember = true): void {
    if (remember) this.last = { event, data, at: Date.now() };
    for (const l of this.listeners) {
      try {
        l(event, data);
      } catch (err) {
        this.log.warn({ event: 'live_listener_failed', err: String(err) }, 'live listener failed');
      }
    }
  }
}
