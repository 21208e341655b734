import { beforeAll, describe, expect, it } from 'vitest';
import { type DemoReport, runDemo } from '../../examples/retry-question/demo.js';
import { REGIONS } from '../../examples/retry-question/router.js';

// Seed 004's "Testing Plan" (successful retry, invalid question index, inference failure; the
// end-to-end flow failed → retry → retrying → completed), its edge cases (timeouts, concurrent
// retries, provider exclusion, partial results, audit trail) and its metrics, end to end.
describe('examples/retry-question (seed 004)', () => {
  let r: DemoReport;
  const logs: Record<string, unknown>[] = [];
  beforeAll(async () => {
    r = await runDemo({ onLog: (l) => logs.push(l) });
  });

  const cell = (tasks: DemoReport['final']['tasks'], q: number, region: string) =>
    tasks[q * REGIONS.length + REGIONS.indexOf(region)]!;

  it('runs the job as one session: the question × region grid by index, with three failed cells', () => {
    expect(r.first.tasks).toHaveLength(9);
    r.first.tasks.forEach((t, i) => {
      expect(t.sessionIndex).toBe(i);
      expect(t.payload).toMatchObject({ question_index: Math.floor(i / 3), region: REGIONS[i % 3] });
    });
    expect(r.first.session.status).toBe('failed');
    const failed = r.first.tasks.filter((t) => t.status === 'failed').map((t) => t.sessionIndex);
    expect(failed).toEqual([0, 4, 8]);
    expect(cell(r.first.tasks, 0, 'United States').error).toMatchObject({ kind: 'timeout' });
  });

  it('a successful retry: status retrying at once, then completed, away from the provider that failed', () => {
    const t = r.timeout;
    expect(t.response).toMatchObject({
      execution_id: t.failed.id,
      region: 'United States',
      question_index: 0,
      status: 'retrying',
      retry_attempt: 1,
      result: { message: 'Retry queued successfully', excluded_provider: t.failedProvider },
    });
    expect(t.after.status).toBe('completed');
    expect(t.retryProvider).not.toBe(t.failedProvider);
    expect(t.after.result).toMatchObject({ provider_id: t.retryProvider });
  });

  it('keeps the audit trail: {attempt, at, by, reason, outcome} per retry', () => {
    expect(r.timeout.after.retryHistory).toEqual([
      {
        attempt: 2,
        at: expect.any(String),
        by: 'ops@example.com',
        reason: 'provider timed out',
        outcome: 'completed',
      },
    ]);
    const history = r.limit.outcomes.at(-1)!.retryHistory;
    expect(history.map((h) => [h.attempt, h.outcome])).toEqual([
      [2, 'failed'],
      [3, 'failed'],
      [4, 'failed'],
    ]);
    expect(history.every((h) => !Number.isNaN(Date.parse(h.at)))).toBe(true);
  });

  it('re-executes only the retried (question, region); other regions and questions are untouched', () => {
    expect(r.runsAfter).toEqual({
      ...r.runsBefore,
      '0:United States': 2,
      '1:Europe': 2,
      '2:Asia Pacific': 4,
    });
    for (const before of r.first.tasks.filter((t) => t.status === 'completed')) {
      const after = r.final.tasks[before.sessionIndex!]!;
      expect(after).toMatchObject({ status: 'completed', attempt: 1, manualRetries: 0 });
      expect(after.finishedAt).toEqual(before.finishedAt);
    }
  });

  it('enforces the limit of 3 retries, and an inference failure leaves the cell failed', () => {
    expect(r.limit.responses.map((x) => x.retry_attempt)).toEqual([1, 2, 3]);
    for (const o of r.limit.outcomes) expect(o.status).toBe('failed');
    expect(r.limit.outcomes.at(-1)!.error?.message).toMatch(/not served/);
    expect(r.limit.refused).toMatchObject({ status: 409, code: 'retry_limit' });
    expect(cell(r.final.tasks, 2, 'Asia Pacific')).toMatchObject({ status: 'failed', manualRetries: 3 });
  });

  it('lets exactly one of two concurrent retries win; the other gets a conflict', () => {
    expect(r.concurrent.fulfilled).toHaveLength(1);
    expect(r.concurrent.refused).toHaveLength(1);
    expect(r.concurrent.refused[0]).toMatchObject({ status: 409 });
    expect(r.concurrent.after).toMatchObject({ status: 'completed', manualRetries: 1 });
    expect(r.concurrent.after.retryHistory).toHaveLength(1);
  });

  it('refuses a retry of a completed question and of an invalid question index', () => {
    expect(r.notEligible).toMatchObject({ status: 409, code: 'not_eligible' });
    expect(r.invalidIndex).toMatchObject({ code: 'validation', message: 'invalid question index: 7' });
  });

  it('moves the retry metrics (GET /metrics) and logs each retry', () => {
    expect(r.metrics.available).toBe(true);
    const base = (k: keyof typeof r.metrics.before) => r.metrics.before[k] ?? 0;
    expect(r.metrics.after.gaffer_retry_attempts_total! - base('gaffer_retry_attempts_total')).toBe(5);
    expect(r.metrics.after.gaffer_retry_success_total! - base('gaffer_retry_success_total')).toBe(2);
    expect(r.metrics.after.gaffer_retry_failure_total! - base('gaffer_retry_failure_total')).toBe(3);
    expect(
      r.metrics.after.gaffer_retry_duration_seconds_count! - base('gaffer_retry_duration_seconds_count'),
    ).toBe(5);
    const retried = logs.filter((l) => l.event === 'task_retried_by_hand').map((l) => l.taskId);
    expect(retried).toContain(r.timeout.failed.id);
  });
});
