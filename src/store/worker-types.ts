// The worker fleet's records and parameters (split from types.ts, which re-exports them).
import type { WorkerLiveness } from '../core/liveness.js';
import type { Json } from './json.js';

export interface ListWorkersParams {
  /** Stale workers too (they are kept for the retention period, 7 days by default). */
  includeStale?: boolean;
  machineId?: string;
  /** Page size, 1 to 1000 (default 100). */
  limit?: number;
  /** Opaque cursor from a previous page's nextCursor. */
  cursor?: string;
}

/** Workers counted by the database, whatever the size of the fleet. */
export interface WorkerCounts {
  live: number;
  stale: number;
}

export interface Worker {
  id: string;
  name: string | null;
  machineId: string;
  hostname: string | null;
  pid: number | null;
  version: string | null;
  types: string[];
  queues: string[];
  concurrency: number;
  labels: Record<string, string>;
  state: Json | null;
  stats: WorkerStats | null;
  stale: boolean;
  staleReason: string | null;
  registeredAt: Date;
  lastHeartbeatAt: Date;
  staleAt: Date | null;
  deregisteredAt: Date | null;
  /** Event-loop lag and lease age from its heartbeats, and whether it is suspected stuck (src/core/liveness.ts). */
  liveness: WorkerLiveness;
}

/** A registered worker as the store and API report it (the package root's `Worker` is the class that runs handlers). */
export type WorkerRecord = Worker;

export interface WorkerStats {
  processed: number;
  failed: number;
  startedAt?: string;
}

export interface RegisterWorkerParams {
  machineId: string;
  /** Slot or name on the machine; registering the same machine + name again makes the earlier one stale at once. */
  name?: string;
  hostname?: string;
  pid?: number;
  version?: string;
  types?: string[];
  queues?: string[];
  concurrency?: number;
  labels?: Record<string, string>;
  /**
   * The token registering (auth on): recorded on the worker. A worker token may then not replace a
   * live worker of the same machine + name that another token registered; an admin token may.
   */
  owner?: { tokenId: string; admin: boolean };
}

export interface WorkerEvent {
  id: number;
  workerId: string;
  kind: string;
  at: Date;
  data: Json | null;
}
