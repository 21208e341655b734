import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { MetricsSnapshot, StoreEvent } from '../store/observability.js';
import type { Store } from '../store/store.js';
import { unservedWork } from './alerts.js';
import { FlowGauges } from './flow-metrics.js';
import { HotCounter, HotHistogram } from './hot-metrics.js';
import type { Logger } from './logger.js';
import { silentLogger } from './logger.js';

export interface MetricsOptions {
  /** How long one database snapshot serves scrapes (default 1500 ms). */
  cacheMs?: number;
  /** Also export this process's CPU, memory and event-loop metrics, prefixed gaffer_ (default false). */
  processMetrics?: boolean;
  logger?: Logger;
  /** Clock of the cache (tests). */
  now?: () => number;
}

export const ATTEMPT_OUTCOMES = ['completed', 'failed', 'timeout', 'lost', 'cancelled'] as const;

const sec = (ms: number) => ms / 1000;

/** Seconds: sub-second claims and handlers up to hour-long work. */
const DURATION_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600,
];
const PICKUP_BUCKETS = [
  0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600,
];
/** A manual retry is re-queued, waits for a worker, then runs: seconds to hours. */
const RETRY_BUCKETS = [0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 1800, 3600, 7200, 21600, 86400];

/**
 * Gaffer's Prometheus metrics, in a registry of their own (an embedding app's
 * global registry is left alone). Two sources:
 * - counters and histograms from the store's events in this process (what this
 *   node created, claimed, completed, failed, retried by hand);
 * - gauges from the database, one statement per scrape, cached briefly, so every
 *   node reports the same depth, ages, dead letters and workers.
 */
export class GafferMetrics {
  readonly registry = new Registry();
  private readonly cacheMs: number;
  private readonly now: () => number;
  private readonly log: Logger;
  private fetchedAt = Number.NEGATIVE_INFINITY;
  private inFlight: Promise<void> | null = null;
  private readonly seenTypes = new Set<string>();
  private detach: (() => void) | null = null;

  // From events
  // Once per task: Hot* (see hot-metrics.ts) keep these off prom-client's per-call label hashing.
  private readonly created: HotCounter;
  private readonly attempts: HotCounter;
  private readonly retriesScheduled: Counter<'type'>;
  private readonly deadLettered: Counter<'type'>;
  private readonly retryAttempts: Counter<'type'>;
  private readonly retrySuccess: Counter<'type'>;
  private readonly retryFailure: Counter<'type'>;
  private readonly retryDuration: Histogram<'type' | 'outcome'>;
  private readonly duration: HotHistogram;
  private readonly pickup: HotHistogram;
  // From the database
  private readonly depth: Gauge<'queue' | 'status'>;
  private readonly oldestAge: Gauge<'queue'>;
  private readonly waiting: Gauge<'queue' | 'type'>;
  private readonly unserved: Gauge<'queue' | 'type'>;
  private readonly deadLetters: Gauge<'queue' | 'type'>;
  private readonly workers: Gauge<'state'>;
  private readonly workerProcessed: Gauge<'worker_id' | 'machine_id'>;
  private readonly workerFailed: Gauge<'worker_id' | 'machine_id'>;
  private readonly workerSuccess: Gauge<'worker_id' | 'machine_id'>;
  private readonly workerUptime: Gauge<'worker_id' | 'machine_id'>;
  private readonly workerLag: Gauge<'worker_id' | 'machine_id'>;
  private readonly suspectedStuck: Gauge;
  private readonly storeUp: Gauge;
  private readonly flow: FlowGauges;

  constructor(
    private readonly store: Pick<Store, 'onEvent' | 'metricsSnapshot'> &
      Partial<Pick<Store, 'listFlowControls'>>,
    opts: MetricsOptions = {},
  ) {
    this.cacheMs = opts.cacheMs ?? 1500;
    this.now = opts.now ?? Date.now;
    this.log = opts.logger ?? silentLogger;
    const registers = [this.registry];
    const counter = <L extends string>(name: string, help: string, labelNames: L[]) =>
      new Counter<L>({ name, help, labelNames, registers });
    const gauge = <L extends string>(name: string, help: string, labelNames: L[]) =>
      new Gauge<L>({ name, help, labelNames, registers });
    const histogram = <L extends string>(name: string, help: string, labelNames: L[], buckets: number[]) =>
      new Histogram<L>({ name, help, labelNames, buckets, registers });

    this.created = new HotCounter(
      'gaffer_tasks_created_total',
      'Tasks created through this node',
      this.registry,
    );
    this.attempts = new HotCounter(
      'gaffer_task_attempts_total',
      'Attempts ended, by outcome: completed, failed, timeout, lost (lease lapsed), cancelled',
      this.registry,
    );
    this.retriesScheduled = counter(
      'gaffer_retries_scheduled_total',
      'Automatic retries scheduled after a failed attempt',
      ['type'],
    );
    this.deadLettered = counter(
      'gaffer_tasks_dead_lettered_total',
      'Tasks that ended failed (dead letters)',
      ['type'],
    );
    this.retryAttempts = counter(
      'gaffer_retry_attempts_total',
      'Manual retries of failed or cancelled tasks',
      ['type'],
    );
    this.retrySuccess = counter('gaffer_retry_success_total', 'Manual retries whose run completed', ['type']);
    this.retryFailure = counter('gaffer_retry_failure_total', 'Manual retries whose run ended failed again', [
      'type',
    ]);
    this.retryDuration = histogram(
      'gaffer_retry_duration_seconds',
      'From a manual retry request to its outcome (success or failure)',
      ['type', 'outcome'],
      RETRY_BUCKETS,
    );
    this.duration = new HotHistogram(
      'gaffer_task_duration_seconds',
      'Attempt run time, from claim to its end',
      DURATION_BUCKETS,
      this.registry,
    );
    this.pickup = new HotHistogram(
      'gaffer_task_pickup_latency_seconds',
      'Wait of runnable work: claimed-at minus the later of created-at and run-at',
      PICKUP_BUCKETS,
      this.registry,
    );

    this.depth = gauge('gaffer_queue_depth', 'Unfinished tasks by queue and status', ['queue', 'status']);
    this.oldestAge = gauge(
      'gaffer_queue_oldest_age_seconds',
      'Age of the oldest runnable task (queued or retrying, run-at passed)',
      ['queue'],
    );
    this.waiting = gauge('gaffer_tasks_waiting', 'Runnable tasks waiting for a worker', ['queue', 'type']);
    this.unserved = gauge(
      'gaffer_tasks_waiting_unserved',
      'Runnable tasks with no live worker that takes their type and queue',
      ['queue', 'type'],
    );
    this.deadLetters = gauge('gaffer_dead_letters', 'Tasks in the dead letters (status failed)', [
      'queue',
      'type',
    ]);
    this.workers = gauge('gaffer_workers', 'Registered workers by state: live or stale', ['state']);
    const perWorker = ['worker_id', 'machine_id'] as ('worker_id' | 'machine_id')[];
    this.workerProcessed = gauge(
      'gaffer_worker_processed',
      'Tasks a live worker has processed (its heartbeat)',
      perWorker,
    );
    this.workerFailed = gauge(
      'gaffer_worker_failed',
      'Tasks a live worker has failed (its heartbeat)',
      perWorker,
    );
    this.workerSuccess = gauge(
      'gaffer_worker_success_ratio',
      'Completed / processed of a live worker, 0..1',
      perWorker,
    );
    this.workerUptime = gauge('gaffer_worker_uptime_seconds', 'Time since a live worker started', perWorker);
    this.workerLag = gauge(
      'gaffer_worker_event_loop_lag_seconds',
      "Lag of a live worker's main event loop at its last heartbeat (the loop its handlers run on)",
      perWorker,
    );
    this.suspectedStuck = new Gauge({
      name: 'gaffer_workers_suspected_stuck',
      help: 'Live workers suspected stuck: event loop blocked for a third of the lease, or leases half-way to lapsing',
      registers,
    });
    this.storeUp = new Gauge({
      name: 'gaffer_store_up',
      help: '1 when the last database snapshot succeeded, 0 when it failed',
      registers,
    });

    this.flow = new FlowGauges(this.registry);
    if (opts.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'gaffer_' });
  }

  /** Counts the store's events from now on. Returns this for chaining; close() detaches. */
  attach(): this {
    this.detach ??= this.store.onEvent((e) => this.observe(e));
    return this;
  }

  close(): void {
    this.detach?.();
    this.detach = null;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Zero series for a type's outcomes the first time it is seen, so rate() works from the first failure. */
  private initType(type: string): void {
    if (this.seenTypes.has(type)) return;
    this.seenTypes.add(type);
    for (const outcome of ATTEMPT_OUTCOMES) this.countAttempt(type, outcome, 0);
    this.retryAttempts.inc({ type }, 0);
    this.retrySuccess.inc({ type }, 0);
    this.retryFailure.inc({ type }, 0);
  }

  private countAttempt(type: string, outcome: string, by = 1): void {
    this.attempts.inc(`${type}\u0000${outcome}`, () => ({ type, outcome }), by);
  }

  private observeDuration(type: string, outcome: string, ms: number): void {
    this.duration.observe(`${type}\u0000${outcome}`, () => ({ type, outcome }), sec(ms));
  }

  observe(e: StoreEvent): void {
    switch (e.event) {
      case 'task_created':
        this.initType(e.type);
        this.created.inc(`${e.type}\u0000${e.queue}`, () => ({ type: e.type, queue: e.queue }));
        return;
      case 'task_claimed':
        this.pickup.observe(
          `${e.type}\u0000${e.queue}`,
          () => ({ type: e.type, queue: e.queue }),
          sec(e.pickupMs),
        );
        return;
      case 'task_completed':
        this.initType(e.type);
        this.countAttempt(e.type, 'completed');
        if (e.durationMs !== null) this.observeDuration(e.type, 'completed', e.durationMs);
        if (e.manualRetryMs !== null) {
          this.retrySuccess.inc({ type: e.type });
          this.retryDuration.observe({ type: e.type, outcome: 'success' }, sec(e.manualRetryMs));
        }
        return;
      case 'task_failed':
        this.initType(e.type);
        this.countAttempt(e.type, e.outcome);
        if (e.durationMs !== null) this.observeDuration(e.type, e.outcome, e.durationMs);
        // A manual retry that ends cancelled is neither a success nor a failure of the retry.
        if (e.manualRetryMs !== null && e.status === 'failed') {
          this.retryFailure.inc({ type: e.type });
          this.retryDuration.observe({ type: e.type, outcome: 'failure' }, sec(e.manualRetryMs));
        }
        return;
      case 'retry_scheduled':
        this.retriesScheduled.inc({ type: e.type });
        return;
      case 'dead_lettered':
        this.deadLettered.inc({ type: e.type });
        return;
      case 'task_retried_by_hand':
        this.initType(e.type);
        this.retryAttempts.inc({ type: e.type });
        return;
      default:
        return;
    }
  }

  /** Reads the database gauges, at most once per cacheMs; concurrent scrapes share one read. */
  async refresh(force = false): Promise<void> {
    if (!force && this.now() - this.fetchedAt < this.cacheMs) return;
    this.inFlight ??= Promise.all([this.store.metricsSnapshot(), this.store.listFlowControls?.() ?? []])
      .then(([snap, controls]) => {
        this.apply(snap);
        this.flow.apply(controls);
        this.storeUp.set(1);
        this.fetchedAt = this.now();
      })
      .catch((err: unknown) => {
        // Keep the last gauges and answer the scrape: counters are still good, and store_up says why.
        this.storeUp.set(0);
        this.log.warn({ event: 'metrics_snapshot_failed', err: String(err) }, 'metrics snapshot failed');
      })
      .finally(() => {
        this.inFlight = null;
      });
    await this.inFlight;
  }

  /** The Prometheus text exposition, database gauges refreshed if stale. */
  async metrics(): Promise<string> {
    await this.refresh();
    return this.registry.metrics();
  }

  private apply(s: MetricsSnapshot): void {
    for (const g of [
      this.depth,
      this.oldestAge,
      this.waiting,
      this.unserved,
      this.deadLetters,
      this.workerProcessed,
      this.workerFailed,
      this.workerSuccess,
      this.workerUptime,
      this.workerLag,
    ]) {
      g.reset();
    }
    const queues = new Set<string>();
    for (const d of s.depth) {
      queues.add(d.queue);
      this.depth.set({ queue: d.queue, status: d.status }, d.count);
    }
    const oldest = new Map<string, number>();
    for (const q of queues) oldest.set(q, 0);
    const unserved = new Set(unservedWork(s));
    for (const w of s.waiting) {
      oldest.set(w.queue, Math.max(oldest.get(w.queue) ?? 0, w.oldestAgeMs));
      this.waiting.set({ queue: w.queue, type: w.type }, w.count);
      this.unserved.set({ queue: w.queue, type: w.type }, unserved.has(w) ? w.count : 0);
    }
    for (const [queue, ms] of oldest) this.oldestAge.set({ queue }, sec(ms));
    for (const d of s.deadLetters) this.deadLetters.set({ queue: d.queue, type: d.type }, d.count);
    this.workers.set({ state: 'live' }, s.liveWorkers.length);
    this.workers.set({ state: 'stale' }, s.staleWorkers);
    for (const w of s.liveWorkers) {
      const labels = { worker_id: w.id, machine_id: w.machineId };
      if (w.processed !== null) {
        this.workerProcessed.set(labels, w.processed);
        const failed = w.failed ?? 0;
        this.workerFailed.set(labels, failed);
        this.workerSuccess.set(labels, w.processed > 0 ? (w.processed - failed) / w.processed : 1);
      }
      if (w.startedAt)
        this.workerUptime.set(labels, Math.max(0, sec(s.at.getTime() - w.startedAt.getTime())));
      if (w.eventLoopLagMs !== null) this.workerLag.set(labels, sec(w.eventLoopLagMs));
    }
    this.suspectedStuck.set(s.liveWorkers.filter((w) => w.suspectedStuck).length);
  }
}
