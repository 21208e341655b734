/** Flow control (migration 0012): pause, concurrency limits and rate limits of a queue or a task type. */

/** What a control applies to: every task of a queue, or every task of a type. */
export type FlowScope = 'queue' | 'type';

/** At most `limit` starts in any window of `intervalMs`. */
export interface RateLimit {
  limit: number;
  intervalMs: number;
}

/** The limits of one queue or type; null: that limit does not apply. */
export interface FlowLimits {
  /** At most this many of the scope's tasks run at once, across the whole fleet. */
  concurrency: number | null;
  /** At most this many run at once per concurrency key (tasks without a key are not counted). */
  keyConcurrency: number | null;
  /** At most `limit` of the scope's tasks start in any window of `intervalMs`. */
  rate: RateLimit | null;
  /** The same per concurrency key. */
  keyRate: RateLimit | null;
}

export interface SetLimitsParams extends Partial<FlowLimits> {
  scope: FlowScope;
  name: string;
}

export interface FlowTarget {
  scope: FlowScope;
  name: string;
}

/** A queue's or type's flow control as configured, with what it holds back now. */
export interface FlowControl extends FlowLimits {
  scope: FlowScope;
  name: string;
  paused: boolean;
  pausedAt: Date | null;
  pausedBy: string | null;
  /** The scope's tasks running now (all of them, exact). */
  running: number;
  /**
   * The scope's queued and retrying tasks while something holds them all back (the pause, a full
   * concurrency limit, a full rate window); 0 otherwise.
   */
  waiting: number;
  /** While the scope's rate window is full: when the next start may happen. */
  rateLimitedUntil: Date | null;
  /** Keys whose running tasks fill keyConcurrency now. */
  keysAtLimit: number;
  /** Keys whose rate window is full now. */
  keysRateLimited: number;
  updatedAt: Date;
}
