/** Exponential backoff with full jitter on the upper half: delay in [d/2, d], d = min(max, base * factor^(n-1)). */
export interface BackoffPolicy {
  baseMs: number;
  factor: number;
  maxMs: number;
  /** 0 = no jitter, 1 = delay anywhere in [d/2, d]. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1000, factor: 2, maxMs: 5 * 60_000, jitter: 1 };

export function backoffDelayMs(
  policy: BackoffPolicy,
  failedAttempt: number,
  random: () => number = Math.random,
): number {
  const exp = Math.max(0, failedAttempt - 1);
  const full = Math.min(policy.maxMs, policy.baseMs * policy.factor ** exp);
  const jitterSpan = (full / 2) * Math.min(1, Math.max(0, policy.jitter));
  return Math.round(full - jitterSpan * random());
}
