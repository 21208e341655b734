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

export const SCENARIOS = ['bulk_enqueue', 'single_enqueue', 'drain', 'pickup', 'mixed'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

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
] as const;
export type MetricName = (typeof METRICS)[number];

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
};

/** Higher is better for rates, lower for latencies and memory. */
export const HIGHER_IS_BETTER: Record<MetricName, boolean> = {
  bulk_enqueue: true,
  single_enqueue: true,
  drain: true,
  pickup_p50: false,
  pickup_p99: false,
  mixed_rate: true,
  mixed_p99: false,
  server_peak_rss: false,
  drain_cpu_worker: false,
  drain_cpu_store: false,
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
