import { beforeAll, describe, expect, it } from 'vitest';
import { type DemoReport, runDemo } from '../../examples/llm-fanout/demo.js';
import { PROVIDERS } from '../../examples/llm-fanout/providers.js';

// Seed 000's "Testing Recommendations", run against the example end to end:
// an embedded server, four provider workers over HTTP, a request and its retry request.
describe('examples/llm-fanout (seed 000)', () => {
  let r: DemoReport;
  const logs: Record<string, unknown>[] = [];

  beforeAll(async () => {
    // ChatGPT and Perplexity fail every attempt in the first round, then recover.
    r = await runDemo({
      failureRates: { aim: 0, chatgpt: 1, aio: 0, perplexity: 1 },
      retryFailureRate: 0,
      onLog: (l) => logs.push(l),
    });
  });

  const byType = (tasks: DemoReport['first']['settled'], p: string) =>
    tasks.find((t) => t.type === `llm.${p}`)!;

  describe('1. new request flow', () => {
    it('generates a session id and stores it on every task', () => {
      expect(r.sessionId).toMatch(/^[0-9a-f-]{36}$/);
      expect(r.first.session.id).toBe(r.sessionId);
      expect(r.first.outcomes).toEqual(['created', 'created', 'created', 'created']);
      for (const t of [...r.first.sent, ...r.first.settled]) expect(t.sessionId).toBe(r.sessionId);
    });

    it('gives each provider worker its own unique task id, in a permanent index order', () => {
      const ids = r.first.settled.map((t) => t.id);
      expect(new Set(ids).size).toBe(4);
      expect(r.first.settled.map((t) => t.type)).toEqual(PROVIDERS.map((p) => `llm.${p}`));
      expect(r.first.settled.map((t) => t.sessionIndex)).toEqual([0, 1, 2, 3]);
      // Each task ran on its own provider's worker.
      for (const p of PROVIDERS) expect(byType(r.first.settled, p).workerId).toBe(r.workerIds[p]);
      expect(new Set(Object.values(r.workerIds)).size).toBe(4);
    });

    it('keeps the request fields in each task record', () => {
      const chatgpt = byType(r.first.settled, 'chatgpt');
      expect(chatgpt.payload).toMatchObject({
        job_id: 'job-7',
        query_id: 'query-42',
        llm_model_name: 'gpt-4o',
      });
      expect(chatgpt.key).toBe('job-7');
    });
  });

  describe('2. retry request flow', () => {
    it('records the failed tasks as failed_tasks (dead letters with payload, error, attempts, failed-at)', () => {
      expect(byType(r.first.settled, 'aim').status).toBe('completed');
      expect(byType(r.first.settled, 'chatgpt').status).toBe('failed');
      expect(r.first.session.status).toBe('failed');
      const failed = r.failedTasks.map((f) => f.task_id).sort();
      expect(failed).toEqual([`${r.sessionId}.chatgpt`, `${r.sessionId}.perplexity`]);
      for (const f of r.failedTasks) {
        expect(f.session_id).toBe(r.sessionId);
        expect(f.payload).toMatchObject({ product_id: 'product-123' });
        expect(f.error).toMatch(/answered 503/);
        expect(f.retry_count).toBe(2);
        expect(Number.isNaN(Date.parse(f.failed_at!))).toBe(false);
      }
    });

    it('re-sending the same session and task ids sets the failed ones to retrying and duplicates nothing', () => {
      expect(r.retry.outcomes).toEqual(['existing', 'retried', 'existing', 'retried']);
      expect(r.retry.sent.map((t) => t.status)).toEqual(['completed', 'retrying', 'completed', 'retrying']);
      expect(r.retry.settled.map((t) => t.id)).toEqual(r.first.settled.map((t) => t.id));
      expect(byType(r.retry.sent, 'chatgpt').retryHistory).toHaveLength(1);
    });

    it('runs only the failed tasks again, and they complete', () => {
      expect(r.calls).toEqual({
        [`${r.sessionId}.aim`]: 1,
        [`${r.sessionId}.chatgpt`]: 3,
        [`${r.sessionId}.aio`]: 1,
        [`${r.sessionId}.perplexity`]: 3,
      });
      expect(r.retry.settled.every((t) => t.status === 'completed')).toBe(true);
      expect(byType(r.retry.settled, 'aim').attempt).toBe(1);
      expect(byType(r.retry.settled, 'chatgpt').retryHistory[0]?.outcome).toBe('completed');
      expect(r.retry.session.status).toBe('completed');
    });
  });

  describe('3. error scenarios and logging', () => {
    it('carries the session id on every worker log line about a task, failures included', () => {
      const workerLines = logs.filter((l) => typeof l.taskId === 'string' && l.component !== 'server');
      expect(workerLines.length).toBeGreaterThan(10);
      for (const l of workerLines) expect(l.sessionId, JSON.stringify(l)).toBe(r.sessionId);
      const failures = workerLines.filter((l) => l.event === 'task_failed' || l.event === 'llm_call_failed');
      expect(failures.length).toBeGreaterThanOrEqual(8);
    });

    it('carries it on the server’s claim, failure and dead-letter lines too', () => {
      const named = ['task_claimed', 'task_failed', 'dead_lettered'];
      const serverLines = logs.filter((l) => l.component === 'server' && named.includes(String(l.event)));
      expect(serverLines.filter((l) => l.event === 'dead_lettered').length).toBeGreaterThanOrEqual(2);
      for (const l of serverLines) expect(l.sessionId, JSON.stringify(l)).toBe(r.sessionId);
    });

    it('logs the same events with the same fields on all four workers', () => {
      for (const p of PROVIDERS) {
        const mine = logs.filter((l) => l.provider === p && l.event === 'llm_call_started');
        expect(mine.length, p).toBeGreaterThan(0);
        for (const l of mine) expect(l).toMatchObject({ sessionId: r.sessionId, type: `llm.${p}` });
      }
      expect(logs.some((l) => l.event === 'orchestration_retry' && l.sessionId === r.sessionId)).toBe(true);
    });
  });
});
