import { randomUUID } from 'node:crypto';
import type { CreateSessionResult, GafferClient, Session, Task } from '@gafferhq/gaffer';
import type { Logger } from 'pino';
import { LlmTask, PROVIDERS, type Provider, typeOf } from './providers.js';

export interface LlmRequest {
  job_id: string;
  query_id: string;
  product_id: string;
  product_name: string;
}

/** Seed 000's failed_tasks row, read from Gaffer's dead letters instead of a table of its own. */
export interface FailedTaskRecord {
  task_id: string;
  session_id: string | null;
  task_type: string;
  payload: unknown;
  error: string | null;
  retry_count: number;
  failed_at: string | null;
}

const MODELS: Record<Provider, string> = {
  aim: 'aim-1',
  chatgpt: 'gpt-4o',
  aio: 'aio-large',
  perplexity: 'sonar',
};

/**
 * The orchestrator of seed 000: one session per request, fanned out to the four
 * providers. Task ids are derived from the session id, so a retry request that
 * re-sends the same session and task ids creates nothing new: Gaffer moves the
 * failed tasks to `retrying` and leaves the finished ones alone.
 */
export class Orchestrator {
  constructor(
    private readonly client: GafferClient,
    private readonly log: Logger,
  ) {}

  /** Declares the four task types once: payload schema, 2 attempts, a short backoff for the demo. */
  async defineTypes(): Promise<void> {
    for (const p of PROVIDERS) {
      await this.client.defineType(typeOf(p), {
        schema: LlmTask,
        maxAttempts: 2,
        backoff: { baseMs: 50, maxMs: 200 },
      });
    }
  }

  /** A new request (no session id) or a retry request (the session id of an earlier one). */
  async submit(req: LlmRequest, sessionId: string = randomUUID()): Promise<CreateSessionResult> {
    const tasks = PROVIDERS.map((p) => ({
      id: `${sessionId}.${p}`,
      type: typeOf(p),
      payload: { ...req, llm_model_name: MODELS[p] } satisfies LlmTask,
      metadata: { provider: p },
    }));
    const res = await this.client.createSession({
      id: sessionId,
      key: req.job_id,
      metadata: { query_id: req.query_id },
      tasks,
    });
    this.log.info(
      {
        event: res.created ? 'orchestration_started' : 'orchestration_retry',
        sessionId,
        outcomes: Object.fromEntries(res.tasks.map((t, i) => [t.type, res.outcomes[i]])),
      },
      res.created ? 'request fanned out' : 'retry request sent',
    );
    return res;
  }

  /** Resolves once no task of the session is unfinished. */
  async settle(sessionId: string, timeoutMs = 20_000): Promise<Session> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await this.client.session(sessionId);
      if (s.status !== 'active') return s;
      if (Date.now() > deadline) throw new Error(`session ${sessionId} still active after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  tasks(sessionId: string): Promise<Task[]> {
    return this.client.sessionTasks(sessionId);
  }

  async failedTasks(sessionId: string): Promise<FailedTaskRecord[]> {
    const page = await this.client.deadLetters({ sessionId, limit: 100 });
    return page.items.map((t) => ({
      task_id: t.id,
      session_id: t.sessionId,
      task_type: t.type,
      payload: t.payload,
      error: t.error?.message ?? null,
      retry_count: t.attempt,
      failed_at: t.finishedAt?.toISOString() ?? null,
    }));
  }
}
