// What a task waits for and why it is not running (split from types.ts, which re-exports them).
import type { DependencyFailurePolicy, TaskStatus, WaitKind, WaitTimeoutPolicy } from '../core/states.js';
import type { Json } from './json.js';

/** What a waiting task waits for (`getTaskGraph`). */
export interface TaskWait {
  kind: WaitKind;
  /** Dependencies or children not finished yet. */
  pending: number;
  onFailure: DependencyFailurePolicy;
  /** Children: the attempt that spawned them. */
  round: number;
  timeoutAt: Date | null;
  onTimeout: WaitTimeoutPolicy | null;
  since: Date;
}

/** A task as a node of another task's graph. */
export interface TaskLink {
  id: string;
  type: string;
  status: TaskStatus;
  /** Children: the parent attempt that spawned it; dependencies: 0. */
  round: number;
}

/** A task's place among others: what it waits for, what waits for it, its parent and children. */
export interface TaskGraph {
  taskId: string;
  parentId: string | null;
  depth: number;
  wait: TaskWait | null;
  dependsOn: TaskLink[];
  dependents: TaskLink[];
  children: TaskLink[];
}

/** How a task's last wait ended, as its handler sees it (metadata['gaffer.wake']). */
export type WakeInfo =
  | { kind: 'children'; round: number }
  | { kind: 'signal'; data: Json }
  | { kind: 'timeout' };

/**
 * The reasons a task list can be filtered by: the runnable tasks' (read from the queue and the flow
 * controls of its queue and type) and the kinds of `waiting`. `avoided` and `queued` depend on the
 * live fleet's labels and slots per task, and are only answered for one task.
 */
export const WAIT_FILTERS = [
  'scheduled',
  'backoff',
  'no_live_worker',
  'paused',
  'concurrency_limit',
  'key_limit',
  'rate_limit',
  'dependencies',
  'children',
  'signal',
] as const;

export type WaitFilter = (typeof WAIT_FILTERS)[number];

/**
 * One reason a task is not running, from the store's own state: `scheduled` (run-at in the future),
 * `backoff` (a retry's backoff), `no_live_worker` (no live worker takes its type and queue; `workers`
 * lists live ones), `avoided` (every live worker that takes it is the machine or has the labels it
 * avoids), `queued` (runnable, waiting its turn: `ahead` of it, the slots of the workers that may take
 * it), `paused`, `concurrency_limit`, `key_limit` or `rate_limit` (flow control of its queue or type), and for a `waiting` task `dependencies`, `children` (a fan-in) or `signal`. `message` says it in words.
 */
export interface WaitReason {
  reason:
    | 'scheduled'
    | 'backoff'
    | 'no_live_worker'
    | 'avoided'
    | 'queued'
    | 'dependencies'
    | 'children'
    | 'signal'
    | 'paused'
    | 'concurrency_limit'
    | 'key_limit'
    | 'rate_limit'
    | (string & {});
  message: string;
  until?: string;
  ahead?: number;
  aheadCapped?: boolean;
  workers?: number | { id: string; machineId: string; types: string[]; queues: string[] }[];
  slots?: number;
  busySlots?: number;
  /** dependencies / children: how many are unfinished, and the first of them. */
  pending?: number;
  tasks?: { id: string; type: string; status: string }[];
  /** paused / limits: the queue or type whose flow control holds it, what runs and the limit. */
  scope?: 'queue' | 'type';
  name?: string;
  since?: string;
  key?: string;
  running?: number;
  limit?: number;
}
