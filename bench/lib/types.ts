/** The systems compared, named exactly as in bench/results/latest.json. */
export const SYSTEMS = [
  'gaffer',
  'gaffer-http',
  'gaffer-pglite',
  'graphile-worker',
  'pg-boss',
  'bullmq',
] as const;
export type SystemName = (typeof SYSTEMS)[number];

export const SCENARIOS = [
  'bulk_enqueue',
  'single_enqueue',
  'drain',
  'pickup',
  'mixed',
  'backlog',
  'history',
  'idle_fleet',
  'overview',
  // Flow control (issue 14; bench/scenarios/flow.ts): systems with limits only.
  'drain_limited',
  'rate_limited',
  // Workflows (issue 15; bench/scenarios/dag.ts): systems with dependencies only.
  'dag',
] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** What a plain `npm run bench` runs; `overview` alone is opt-in (the 10M run: --scale=10). */
export const DEFAULT_SCENARIOS: readonly ScenarioName[] = SCENARIOS.filter((s) => s !== 'overview');

/** Scenarios at scale (issue 18): measured in the first run only, whatever --runs says. */
export const SCALE_SCENARIOS: readonly ScenarioName[] = ['backlog', 'history', 'idle_fleet', 'overview'];

/** Figures reported per scenario; pickup and mixed give two each, gaffer-http adds the server's RSS. */
export const METRICS = [
  'bulk_enqueue',
  'single_enqueue',
  'drain',
  'pickup_p50',
  'pickup_p99',
  'mixed_rate',
  'mixed_p99',
  'server_peak_rss',
  'drain_cpu_worker',
  'drain_cpu_store',
  // Flow control (bench/scenarios/flow.ts)
  'drain_limited',
  'drain_limited_peak',
  'drain_limited_key_overlaps',
  'rate_limited_rate',
  'rate_limited_max_second',
  // Workflows (bench/scenarios/dag.ts)
  'dag_ms',
  'dag_cpu_store',
  // At scale (bench/scenarios/scale.ts, fleet.ts)
  'backlog_pickup_p50',
  'backlog_pickup_p99',
  'history_pickup_p50',
  'history_pickup_p99',
  'overview_queued_ms',
  'overview_completed_ms',
  'stats_api_queued_ms',
  'stats_api_completed_ms',
  'busy_idle',
  'busy_dashboard',
  'cpu_idle',
  'cpu_dashboard',
  'idle_fleet_p50',
  'idle_fleet_p99',
  'fleet10_p50',
  'fleet10_p99',
  'idle_fleet_xact',
  'fleet10_xact',
] as const;
export type MetricName = (typeof METRICS)[number];

/** The metrics of the scale scenarios, reported in a section of their own. */
export const SCALE_METRICS: readonly MetricName[] = METRICS.slice(METRICS.indexOf('backlog_pickup_p50'));

export const UNITS: Record<MetricName, string> = {
  bulk_enqueue: 'tasks/s',
  single_enqueue: 'tasks/s',
  drain: 'tasks/s',
  pickup_p50: 'ms',
  pickup_p99: 'ms',
  mixed_rate: 'tasks/s',
  mixed_p99: 'ms',
  server_peak_rss: 'MB',
  drain_cpu_worker: 'µs/task',
  drain_cpu_store: 'µs/task',
  backlog_pickup_p50: 'ms',
  backlog_pickup_p99: 'ms',
  history_pickup_p50: 'ms',
  history_pickup_p99: 'ms',
  overview_queued_ms: 'ms',
  overview_completed_ms: 'ms',
  stats_api_queued_ms: 'ms',
  stats_api_completed_ms: 'ms',
  busy_idle: '% of a core',
  busy_dashboard: '% of a core',
  cpu_idle: '% of a core',
  cpu_dashboard: '% of a core',
  idle_fleet_p50: 'ms',
  idle_fleet_p99: 'ms',
  fleet10_p50: 'ms',
  fleet10_p99: 'ms',
  idle_fleet_xact: 'xact/s',
  fleet10_xact: 'xact/s',
  drain_limited: 'tasks/s',
  drain_limited_peak: 'running',
  drain_limited_key_overlaps: 'pairs',
  rate_limited_rate: 'starts/s',
  rate_limited_max_second: 'starts',
  dag_ms: 'ms',
  dag_cpu_store: 'µs/task',
};

/** Higher is better for rates, lower for latencies, memory, busy time and transactions. */
export const HIGHER_IS_BETTER: Record<MetricName, boolean> = {
  ...(Object.fromEntries(Object.keys(UNITS).map((m) => [m, false])) as Record<MetricName, boolean>),
  bulk_enqueue: true,
  single_enqueue: true,
  drain: true,
  mixed_rate: true,
  drain_limited: true,
};

/** The payload every system carries: `t` is the wall-clock time (ms, sub-ms precision) just before the create call. */
export interface Payload {
  i: number;
  t?: number;
}

/** Counts and settings of one bench invocation. */
export interface BenchConfig {
  quick: boolean;
  runs: number;
  systems: SystemName[];
  scenarios: ScenarioName[];
  concurrency: number;
  /** Gaffer's Worker prefetch: tasks claimed ahead of free slots (claims are up to concurrency + prefetch). */
  gafferPrefetch: number;
  bulkTotal: number;
  bulkBatch: number;
  singleTotal: number;
  drainTotal: number;
  pickupTotal: number;
  pickupGapMs: number;
  mixedRate: number;
  mixedSeconds: number;
  /** --scale: multiplier on the 1M tasks of the scale scenarios. */
  scale: number;
  /** Tasks waiting (backlog, overview) or completed (history) in the scale scenarios: 1M × scale. */
  scaleTotal: number;
  /** Seconds of each database busy-time window (idle server, one dashboard open). */
  busySeconds: number;
  /** Waiting HTTP claims of the large fleet in idle_fleet (the small one has 10). */
  fleetSize: number;
  pgUrl: string;
  redisUrl: string;
}

/** Measured figures of one scenario run of one system. */
export type Sample = Partial<Record<MetricName, number>>;

/** High-resolution wall-clock milliseconds, comparable across processes on one machine. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)));
}
