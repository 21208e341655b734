import type { BenchConfig, Payload, SystemName } from '../lib/types.js';

/** The producer's side of a system: creates tasks and counts durable completions. */
export interface Producer {
  /** Creates all payloads in one bulk call. */
  bulk(payloads: Payload[]): Promise<void>;
  /** Creates one task and waits until it is acknowledged. */
  one(payload: Payload): Promise<void>;
  /** Tasks whose completion is durably recorded (read from the database or Redis). */
  completed(): Promise<number>;
  close(): Promise<void>;
}

/** The worker's side: prepared first (connections, modules), then started when the clock starts. */
export interface WorkerSide {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export type Handler = (payload: Payload) => void;

/** The task type (or queue) of the backlog in `backlog`: one the probed worker does not take. */
export const OTHER_TYPE = 'bench_other';

/**
 * What the scale scenarios (bench/scenarios/scale.ts) need of a system; one without it is not
 * measured there. Seeding is not measured: it only has to be fast and leave the store as the
 * system itself would. How each system seeds is in its `config.scale`, for the report.
 */
export interface ScaleOps {
  /** n tasks of OTHER_TYPE waiting, through the system's bulk API. */
  seedBacklog(n: number): Promise<void>;
  /** n completed tasks of the probed type; absent: created in bulk and drained by a worker. */
  seedHistory?(n: number): Promise<void>;
  /** The system's overview reads (counts by state, depth per queue) once; absent where it has none. */
  overview?(): Promise<void>;
  /** A `gaffer serve` on this system's database, for the busy-time and /api/v1/stats probes. */
  serve?(): Promise<{ url: string; stop(): Promise<void> }>;
  close(): Promise<void>;
}

export interface SystemDriver {
  readonly name: SystemName;
  /** Settings written into the report. */
  readonly config: Record<string, unknown>;
  /** Package versions behind this system. */
  readonly versions: Record<string, string>;
  /** The PostgreSQL database this system uses (for pg_stat_database readings). */
  readonly database?: string;
  /** True when producer and worker must share one process (embedded store). */
  readonly inProcess?: boolean;
  /** A fresh, empty store: database dropped, created and migrated. */
  reset(): Promise<void>;
  producer(): Promise<Producer>;
  worker(handler: Handler): Promise<WorkerSide>;
  /** n workers in one process, each holding one waiting claim (idle_fleet). */
  fleet?(n: number, handler: Handler): Promise<WorkerSide>;
  /** Opens what the scale scenarios use (after reset()). */
  scale?(): Promise<ScaleOps>;
  /** Opens what the flow-control scenarios use (after reset()); absent where the system has no limits. */
  flow?(): Promise<FlowOps>;
  /** Opens what the dag scenario uses (after reset()); absent where the system has no dependencies. */
  dag?(): Promise<DagOps>;
  /** Environment a worker child needs to reach what reset() started (e.g. the server's URL). */
  childEnv?(): Record<string, string>;
  /** Processes that serve the worker (server, database backends, Redis), for the drain's CPU cost. */
  storePids?(): Promise<number[]>;
  /** Pid of a server process this system runs, for its peak RSS. */
  serverPid?(): number | undefined;
  /** Releases what reset() started (servers, databases). */
  dispose(): Promise<void>;
}

/** Flow control (bench/scenarios/flow.ts), for systems that limit what runs and how fast. */
export interface FlowOps {
  /** Limits on the queue the bench's tasks go to: running at once, running per key, starts per interval. */
  setLimits(limits: {
    concurrency?: number;
    keyConcurrency?: number;
    rate?: { limit: number; intervalMs: number };
  }): Promise<void>;
  /** Creates the payloads in one bulk call, the task of payload i with the concurrency key keyOf(i). */
  bulkKeyed(payloads: Payload[], keyOf: (i: number) => string): Promise<void>;
  /**
   * Read from the tasks after they ran: the most that were running at one instant (from their start and
   * finish times), and the pairs of tasks of one key that ran at the same time.
   */
  overlap(): Promise<{ peak: number; keyOverlaps: number }>;
  /** When each task started (epoch ms), in order. */
  startTimes(): Promise<number[]>;
  close(): Promise<void>;
}

/** Workflows (bench/scenarios/dag.ts), for systems whose tasks can wait for other tasks. */
export interface DagOps {
  /** Creates diamond number n: one task, `width` tasks after it, one task after all of them (the bench's type). */
  createDiamond(n: number, width: number): Promise<void>;
  close(): Promise<void>;
}

export type DriverFactory = (cfg: BenchConfig) => SystemDriver;

/** Loads the driver of a system; each lives in its own module so a missing dependency only removes that one. */
export async function loadDriver(name: SystemName, cfg: BenchConfig): Promise<SystemDriver> {
  const modules: Record<SystemName, () => Promise<{ default: DriverFactory }>> = {
    gaffer: () => import('./gaffer.js'),
    'gaffer-http': () => import('./gaffer-http.js'),
    'gaffer-pglite': () => import('./gaffer-pglite.js'),
    'graphile-worker': () => import('./graphile.js'),
    'pg-boss': () => import('./pgboss.js'),
    bullmq: () => import('./bullmq.js'),
  };
  const mod = await modules[name]();
  return mod.default(cfg);
}
