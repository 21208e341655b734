import { z } from 'zod';

/** A debounce or throttle key with its window (issue 14). */
export const FlowKey = z.strictObject({
  key: z.string().min(1, 'must not be empty').max(255, 'must be at most 255 characters'),
  ms: z
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 3600_000),
});

/** Debounce sets the run time and excludes throttle: each clash is its own issue, at its field. */
export function flowKeyClashes(
  t: { debounce?: unknown; throttle?: unknown; runAt?: unknown; delayMs?: unknown },
  ctx: z.RefinementCtx,
): void {
  if (t.debounce === undefined) return;
  if (t.throttle !== undefined)
    ctx.addIssue({ code: 'custom', path: ['throttle'], message: 'cannot be combined with debounce' });
  for (const field of ['runAt', 'delayMs'] as const) {
    if (t[field] !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: [field],
        message: 'cannot be combined with debounce, which sets the run time',
      });
  }
}
