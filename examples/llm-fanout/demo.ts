import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GafferClient, type Session, type Task } from '@gafferhq/gaffer';
import { HttpBackend } from '@gafferhq/gaffer/client';
import { startServer } from '@gafferhq/gaffer/server';
import pino from 'pino';
import { type FailedTaskRecord, type LlmRequest, Orchestrator } from './orchestrator.js';
import { PROVIDERS, type Provider, type ProviderWorker, providerWorker } from './providers.js';

export interface DemoOptions {
  /** Failure rate of each provider in the first round (default 0.5 for all). */
  failureRates?: Partial<Record<Provider, number>>;
  /** Failure rate of every provider when the retry request runs (default 0: the providers recovered). */
  retryFailureRate?: number;
  /** Seed of the simulated providers' randomness. */
  seed?: number;
  /** Every JSON log line of the server, orchestrator and workers, as it is written. */
  onLog?: (line: Record<string, unknown>) => void;
}

export interface Round {
  outcomes: string[];
  /** The tasks as the create / re-send call returned them (before any worker ran them). */
  sent: Task[];
  /** The tasks once the session settled, by index. */
  settled: Task[];
  session: Session;
}

export interface DemoReport {
  url: string;
  sessionId: string;
  first: Round;
  failedTasks: FailedTaskRecord[];
  retry: Round;
  /** Handler runs per task id over both rounds. */
  calls: Record<string, number>;
  workerIds: Record<Provider, string>;
}

const REQUEST: LlmRequest = {
  job_id: 'job-7',
  query_id: 'query-42',
  product_id: 'product-123',
  product_name: 'Trail running shoe',
};

/**
 * Seed 000 end to end: an embedded Gaffer server, four provider workers over
 * HTTP, a request fanned out as one session, the failures recorded as dead
 * letters, and a retry request that re-sends the same session and task ids.
 */
export async function runDemo(opts: DemoOptions = {}): Promise<DemoReport> {
  const logger = pino(
    { level: 'debug', base: null, timestamp: pino.stdTimeFunctions.isoTime },
    { write: (s: string) => opts.onLog?.(JSON.parse(s) as Record<string, unknown>) },
  );
  const dataDir = mkdtempSync(join(tmpdir(), 'gaffer-llm-fanout-'));
  const server = await startServer({
    dataDir,
    port: 0,
    logger: logger.child({ component: 'server' }),
    maintenance: { sweepIntervalMs: 200 },
  });
  const workers: ProviderWorker[] = [];
  try {
    const client = new GafferClient(new HttpBackend({ url: server.url }));
    const orchestrator = new Orchestrator(client, logger.child({ component: 'orchestrator' }));
    await orchestrator.defineTypes();
    for (const p of PROVIDERS) {
      const rate = opts.failureRates?.[p] ?? 0.5;
      workers.push(providerWorker(p, { url: server.url, failureRate: rate, logger, seed: opts.seed }));
    }
    await Promise.all(workers.map((w) => w.worker.start()));

    // A new request: Gaffer generates nothing; the orchestrator picks the session id.
    const created = await orchestrator.submit(REQUEST);
    const sessionId = created.session.id;
    const first: Round = {
      outcomes: created.outcomes,
      sent: created.tasks,
      session: await orchestrator.settle(sessionId),
      settled: await orchestrator.tasks(sessionId),
    };
    const failedTasks = await orchestrator.failedTasks(sessionId);

    // The providers recover; the retry request re-sends the same session id and task ids.
    for (const w of workers) w.failureRate = opts.retryFailureRate ?? 0;
    const resent = await orchestrator.submit(REQUEST, sessionId);
    const retry: Round = {
      outcomes: resent.outcomes,
      sent: resent.tasks,
      session: await orchestrator.settle(sessionId),
      settled: await orchestrator.tasks(sessionId),
    };

    const calls: Record<string, number> = {};
    for (const w of workers) for (const [id, n] of w.calls) calls[id] = n;
    const workerIds = Object.fromEntries(workers.map((w) => [w.provider, w.worker.id ?? ''])) as Record<
      Provider,
      string
    >;
    return { url: server.url, sessionId, first, failedTasks, retry, calls, workerIds };
  } finally {
    await Promise.all(workers.map((w) => w.worker.stop()));
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
