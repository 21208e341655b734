import { hostname } from 'node:os';
import type { WorkerOptions } from './types.js';

const VERSION = '0.1.0';

/** A worker's options with every default filled in. */
export type ResolvedWorkerOptions = Required<Omit<WorkerOptions, 'logger' | 'labels' | 'name' | 'queues'>> &
  Pick<WorkerOptions, 'labels' | 'name' | 'queues'>;

export function resolveWorkerOptions(opts: WorkerOptions): ResolvedWorkerOptions {
  return {
    concurrency: 10,
    prefetch: 0,
    machineId: process.env.GAFFER_MACHINE_ID ?? hostname(),
    heartbeatMs: 10_000,
    heartbeatThread: true,
    claimWaitMs: 20_000,
    shutdownGraceMs: 30_000,
    handleSignals: false,
    version: VERSION,
    // An option given as undefined (an unset env var, an absent CLI flag) keeps its default.
    ...(Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) as WorkerOptions),
  };
}
