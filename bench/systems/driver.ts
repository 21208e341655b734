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

export interface SystemDriver {
  readonly name: SystemName;
  /** Settings written into the report. */
  readonly config: Record<string, unknown>;
  /** Package versions behind this system. */
  readonly versions: Record<string, string>;
  /** True when producer and worker must share one process (embedded store). */
  readonly inProcess?: boolean;
  /** A fresh, empty store: database dropped, created and migrated. */
  reset(): Promise<void>;
  producer(): Promise<Producer>;
  worker(handler: Handler): Promise<WorkerSide>;
  /** Environment a worker child needs to reach what reset() started (e.g. the server's URL). */
  childEnv?(): Record<string, string>;
  /** Processes that serve the worker (server, database backends, Redis), for the drain's CPU cost. */
  storePids?(): Promise<number[]>;
  /** Pid of a server process this system runs, for its peak RSS. */
  serverPid?(): number | undefined;
  /** Releases what reset() started (servers, databases). */
  dispose(): Promise<void>;
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
