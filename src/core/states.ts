/**
 * The task state machine, defined once. The store guards every status-changing
 * UPDATE with the `from` list of the transition it performs, so the database can
 * never hold a transition that is not in this table.
 */
export const TASK_STATUSES = [
  'waiting',
  'queued',
  'running',
  'retrying',
  'completed',
  'failed',
  'cancelled',
] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** Statuses from which a task can still run. */
export const RUNNABLE_STATUSES: readonly TaskStatus[] = ['queued', 'retrying'];
/** Statuses a task never leaves by itself. `completed` is never left at all. */
export const FINISHED_STATUSES: readonly TaskStatus[] = ['completed', 'failed', 'cancelled'];
export const UNFINISHED_STATUSES: readonly TaskStatus[] = ['waiting', 'queued', 'running', 'retrying'];

/** Named transitions: each maps the statuses it may start from to the one it ends in. */
export const TRANSITIONS = {
  claim: { from: ['queued', 'retrying'], to: 'running' },
  cancelBeforeRun: { from: ['waiting', 'queued', 'retrying'], to: 'cancelled' },
  complete: { from: ['running'], to: 'completed' },
  failRetryable: { from: ['running'], to: 'retrying' },
  handBack: { from: ['running'], to: 'queued' },
  // A handler met a rate limit: back in the queue for a while, no attempt spent.
  rateLimited: { from: ['running'], to: 'queued' },
  failFinal: { from: ['running'], to: 'failed' },
  cancelRunning: { from: ['running'], to: 'cancelled' },
  backoffElapsed: { from: ['retrying'], to: 'queued' },
  retryByHand: { from: ['failed', 'cancelled'], to: 'retrying' },
  /**
   * Created with dependencies or a signal wait: inserted queued and moved to waiting by the same
   * transaction, so no one ever sees it queued (the create path has no other way in).
   */
  waitAtCreate: { from: ['queued'], to: 'waiting' },
  /** The handler spawned children to wait for, or waits for a signal: the attempt ends, unspent. */
  waitInHandler: { from: ['running'], to: 'waiting' },
  /** Every dependency or child finished (or one did not, under policy 'run'), a signal came, or its timeout ran with policy 'run'. */
  waitEnded: { from: ['waiting'], to: 'queued' },
  /** A dependency or child ended failed or cancelled under policy 'cancel'. */
  dependencyFailed: { from: ['waiting'], to: 'cancelled' },
  /** A signal wait timed out under policy 'fail'. */
  waitTimedOut: { from: ['waiting'], to: 'failed' },
} as const satisfies Record<string, { from: readonly TaskStatus[]; to: TaskStatus }>;

export type TransitionName = keyof typeof TRANSITIONS;

/** Every legal (from, to) pair, derived from TRANSITIONS. */
export function isLegalTransition(from: TaskStatus, to: TaskStatus): boolean {
  return Object.values(TRANSITIONS).some(
    (t) => t.to === to && (t.from as readonly TaskStatus[]).includes(from),
  );
}

export function isFinished(status: TaskStatus): boolean {
  return FINISHED_STATUSES.includes(status);
}

export function isTaskStatus(value: string): value is TaskStatus {
  return (TASK_STATUSES as readonly string[]).includes(value);
}

/** Session status, derived from its tasks' statuses. */
export type SessionStatus = 'active' | 'completed' | 'failed' | 'cancelled';

export function deriveSessionStatus(counts: Partial<Record<TaskStatus, number>>): SessionStatus {
  const n = (s: TaskStatus) => counts[s] ?? 0;
  if (n('waiting') + n('queued') + n('running') + n('retrying') > 0) return 'active';
  if (n('failed') > 0) return 'failed';
  if (n('cancelled') > 0) return 'cancelled';
  return 'completed';
}

/** Tracking policy of a task type for session entries (seed 001). */
export const TRACKING_POLICIES = ['track', 'hold', 'none'] as const;
export type TrackingPolicy = (typeof TRACKING_POLICIES)[number];

/** What a waiting task waits for. */
export const WAIT_KINDS = ['dependencies', 'children', 'signal'] as const;
export type WaitKind = (typeof WAIT_KINDS)[number];
/** What a dependent does when a dependency (or child) ends failed or cancelled. */
export const DEPENDENCY_FAILURE_POLICIES = ['cancel', 'run'] as const;
export type DependencyFailurePolicy = (typeof DEPENDENCY_FAILURE_POLICIES)[number];
/** What a signal wait does when it times out. */
export const WAIT_TIMEOUT_POLICIES = ['fail', 'run'] as const;
export type WaitTimeoutPolicy = (typeof WAIT_TIMEOUT_POLICIES)[number];
/** How deep children may nest: a root task is depth 0, its children 1, and so on. */
export const MAX_TASK_DEPTH = 10;

/** Outcome of one attempt, as recorded in history and metrics. */
export type AttemptOutcome = 'completed' | 'failed' | 'timeout' | 'lost' | 'cancelled' | 'handed_back';
