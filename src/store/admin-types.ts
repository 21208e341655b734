// Task types, sessions, maintenance, queue stats and wake-ups (split from types.ts, which re-exports them).
import type { BackoffPolicy } from '../core/backoff.js';
import type { SessionStatus, TaskStatus, TrackingPolicy } from '../core/states.js';
import type { Json } from './json.js';

export interface TaskTypeConfig {
  type: string;
  tracking: TrackingPolicy;
  maxAttempts: number | null;
  timeoutMs: number | null;
  backoff: Partial<BackoffPolicy> | null;
  /** JSON Schema of the payload, checked at creation over HTTP. */
  payloadSchema: Json | null;
  updatedAt: Date;
}

export interface UpsertTaskTypeParams {
  type: string;
  tracking?: TrackingPolicy;
  maxAttempts?: number | null;
  timeoutMs?: number | null;
  backoff?: Partial<BackoffPolicy> | null;
  payloadSchema?: Json | null;
}

export interface Session {
  id: string;
  key: string | null;
  userId: string | null;
  metadata: Record<string, Json>;
  status: SessionStatus;
  taskCount: number;
  counts: Record<TaskStatus, number>;
  /** Finished tasks / all tasks, 0..1. */
  progress: number;
  createdAt: Date;
  updatedAt: Date;
}

/** Seed 001's session entry: one task's open presence under a key. */
export interface SessionEntry {
  short_id: string;
  task_type: string;
  task_id: string;
  user_id: string | null;
  status: 'active' | 'completed' | 'failed' | 'cancelled';
  created_at: string;
  updated_at: string;
}

export interface BulkResult {
  matched: number;
  changed: number;
  ids: string[];
}

export interface RescueResult {
  lost: number;
  timedOut: number;
  cancelled: number;
  failed: number;
}

export interface PruneParams {
  olderThanMs: number;
  batchSize?: number;
  now?: Date;
}

export interface PruneResult {
  tasks: number;
  sessions: number;
  events: number;
  workers: number;
}

export interface QueueStat {
  queue: string;
  status: TaskStatus;
  count: number;
  oldestAgeMs: number | null;
}

/**
 * A wake-up: `count` tasks of `type` became runnable in `queue`. A type of null (a signal from an
 * older server) may be any type, with no known count (Infinity).
 */
export interface Wake {
  queue: string;
  type: string | null;
  count: number;
  /** The work becomes claimable this many ms from now (a full rate window that opens then), not now. */
  delayMs?: number;
}

/** Called with a wake-up, or with null when anything may have changed (a LISTEN connection came back). */
export type WakeListener = (wake: Wake | null) => void;
