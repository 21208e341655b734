import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GafferClient, type Session, type Task } from '@gafferhq/gaffer';
import { HttpBackend } from '@gafferhq/gaffer/client';
import { startServer } from '@gafferhq/gaffer/server';
import pino from 'pino';
import {
  createJob,
  executionId,
  type RetryQuestionResponse,
  retryOutcome,
  retryQuestion,
} from './retry-service.js';
import { Execution, HybridRouter, PROVIDERS, providerWorker } from './router.js';

export const RETRY_METRICS = [
  'gaffer_retry_attempts_total',
  'gaffer_retry_success_total',
  'gaffer_retry_failure_total',
  'gaffer_retry_duration_seconds_count',
] as const;
type RetryMetrics = Record<(typeof RETRY_METRICS)[number], number | null>;

export interface Refusal {
  status: number | undefined;
  code: string | undefined;
  message: string;
}

export interface DemoReport {
  url: string;
  jobId: string;
  first: { session: Session; tasks: Task[] };
  /** Runs per grid cell ("q:region") after the first pass. */
  runsBefore: Record<string, number>;
  /** Cell (0, United States): a timeout, retried away from the provider that hung. */
  timeout: {
    failed: Task;
    response: RetryQuestionResponse;
    after: Task;
    failedProvider: string | null;
    retryProvider: string | null;
  };
  /** Cell (1, Europe): two retries at once. */
  concurrent: { fulfilled: RetryQuestionResponse[]; refused: Refusal[]; after: Task };
  /** Cell (2, Asia Pacific): retried until the limit. */
  limit: { responses: RetryQuestionResponse[]; outcomes: Task[]; refused: Refusal };
  notEligible: Refusal;
  invalidIndex: Refusal;
  final: { session: Session; tasks: Task[] };
  runsAfter: Record<string, number>;
  metrics: { before: RetryMetrics; after: RetryMetrics; available: boolean };
}

async function refusal(p: Promise<unknown>): Promise<Refusal> {
  try {
    await p;
  } catch (err) {
    const e = err as { code?: string; message: string; details?: { status?: number } };
    return { status: e.details?.status, code: e.code, message: e.message };
  }
  throw new Error('expected the call to be refused');
}

/** Reads Gaffer's retry counters for `inference.run` from GET /metrics (null when absent). */
async function retryMetrics(url: string): Promise<RetryMetrics | null> {
  const res = await fetch(`${url}/metrics`);
  if (!res.ok) return null;
  const text = await res.text();
  // Summed over the other labels (the duration histogram has one series per outcome).
  const read = (name: string) => {
    const lines = text
      .split('\n')
      .filter((l) => l.startsWith(`${name}{`) && l.includes('type="inference.run"'));
    return lines.length ? lines.reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0) : null;
  };
  return Object.fromEntries(RETRY_METRICS.map((m) => [m, read(m)])) as RetryMetrics;
}

/**
 * Seed 004 end to end: a job's question × region grid as one session, three
 * failed cells, and the retry of one (question, region) at a time.
 */
export async function runDemo(
  opts: { onLog?: (line: Record<string, unknown>) => void } = {},
): Promise<DemoReport> {
  const logger = pino({ level: 'info', base: null }, { write: (s: string) => opts.onLog?.(JSON.parse(s)) });
  const dataDir = mkdtempSync(join(tmpdir(), 'gaffer-retry-question-'));
  const server = await startServer({ dataDir, port: 0, logger: logger.child({ component: 'server' }) });
  const client = new GafferClient(new HttpBackend({ url: server.url }));
  const router = new HybridRouter();
  const workers = PROVIDERS.map((p) =>
    providerWorker(server.url, p, router, logger.child({ component: 'worker' })),
  );
  const providerOf = async (t: Task) =>
    (t.workerId ? (await client.worker(t.workerId)).labels.provider : null) ?? null;
  try {
    // One attempt per execution (a failure is for the operator to retry), and a 1.5 s timeout.
    await client.defineType('inference.run', { schema: Execution, maxAttempts: 1, timeoutMs: 1500 });
    await Promise.all(workers.map((w) => w.start()));
    const metricsBefore = await retryMetrics(server.url);

    const jobId = `job-${randomUUID().slice(0, 8)}`;
    await createJob(client, jobId);
    const settle = async () => {
      for (;;) {
        const s = await client.session(jobId);
        if (s.status !== 'active') return s;
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const first = { session: await settle(), tasks: await client.sessionTasks(jobId) };
    const runsBefore = Object.fromEntries(router.runs);
    const ask = (region: string, questionIndex: number, reason: string) =>
      retryQuestion(client, { jobId, region, questionIndex, by: 'ops@example.com', reason });

    // A timed-out question, retried away from the provider that hung.
    const usId = executionId(jobId, 0, 'United States');
    const usFailed = await client.get(usId);
    const usResponse = await ask('United States', 0, 'provider timed out');
    const usAfter = await retryOutcome(client, usId);
    const timeout = {
      failed: usFailed,
      response: usResponse,
      after: usAfter,
      failedProvider: await providerOf(usFailed),
      retryProvider: await providerOf(usAfter),
    };

    // Two operators press retry on the same question at once: one wins.
    const euId = executionId(jobId, 1, 'Europe');
    const both = await Promise.allSettled([ask('Europe', 1, 'operator A'), ask('Europe', 1, 'operator B')]);
    const concurrent = {
      fulfilled: both.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])),
      refused: await Promise.all(
        both.flatMap((r) => (r.status === 'rejected' ? [refusal(Promise.reject(r.reason))] : [])),
      ),
      after: await retryOutcome(client, euId),
    };

    // A question that fails every time: three retries, then the limit.
    const apId = executionId(jobId, 2, 'Asia Pacific');
    const responses: RetryQuestionResponse[] = [];
    const outcomes: Task[] = [];
    for (let i = 1; i <= 3; i++) {
      responses.push(await ask('Asia Pacific', 2, `attempt ${i} after a model deploy`));
      outcomes.push(await retryOutcome(client, apId));
    }
    const limit = { responses, outcomes, refused: await refusal(ask('Asia Pacific', 2, 'one more time')) };

    const notEligible = await refusal(ask('United States', 1, 'it completed already'));
    const invalidIndex = await refusal(ask('Europe', 7, 'no such question'));

    const final = { session: await client.session(jobId), tasks: await client.sessionTasks(jobId) };
    const metricsAfter = await retryMetrics(server.url);
    const none = Object.fromEntries(RETRY_METRICS.map((m) => [m, null])) as RetryMetrics;
    return {
      url: server.url,
      jobId,
      first,
      runsBefore,
      timeout,
      concurrent,
      limit,
      notEligible,
      invalidIndex,
      final,
      runsAfter: Object.fromEntries(router.runs),
      metrics: {
        before: metricsBefore ?? none,
        after: metricsAfter ?? none,
        available: metricsAfter !== null && metricsAfter.gaffer_retry_attempts_total !== null,
      },
    };
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
