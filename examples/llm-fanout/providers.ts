import { Worker } from '@gafferhq/gaffer';
import { HttpTransport } from '@gafferhq/gaffer/worker';
import type { Logger } from 'pino';
import { z } from 'zod';

/** Seed 000's four provider workers (AIM, ChatGPT, AIO, Perplexity), one task type each. */
export const PROVIDERS = ['aim', 'chatgpt', 'aio', 'perplexity'] as const;
export type Provider = (typeof PROVIDERS)[number];

export const typeOf = (p: Provider) => `llm.${p}`;

/** The event the orchestrator sent each lambda, minus session_id/task_id: Gaffer carries those on the task. */
export const LlmTask = z.object({
  job_id: z.string().min(1),
  query_id: z.string().min(1),
  llm_model_name: z.string().min(1),
  product_id: z.string().min(1),
  product_name: z.string().min(1),
});
export type LlmTask = z.infer<typeof LlmTask>;

/** Deterministic PRNG (mulberry32), so a demo with a failure rate fails the same way every run. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class ProviderError extends Error {
  override name = 'ProviderError';
}

export interface ProviderWorker {
  provider: Provider;
  worker: Worker;
  /** Handler runs per task id: shows which tasks ran again after a retry request. */
  calls: Map<string, number>;
  /** 0..1, changeable while running (a provider recovers). */
  failureRate: number;
}

/**
 * One worker per provider, each with its own handler that simulates the provider:
 * a short "API call" that fails with the worker's failure rate. The handler never
 * touches a task table: Gaffer records status, attempts, errors and the session.
 */
export function providerWorker(
  provider: Provider,
  opts: { url: string; failureRate: number; logger: Logger; seed?: number; latencyMs?: number },
): ProviderWorker {
  const random = seeded((opts.seed ?? 1) * 1000 + PROVIDERS.indexOf(provider));
  const pw: ProviderWorker = {
    provider,
    calls: new Map(),
    failureRate: opts.failureRate,
    worker: new Worker({
      transport: new HttpTransport({ url: opts.url }),
      machineId: `lambda-${provider}`,
      labels: { provider },
      concurrency: 4,
      claimWaitMs: 1000,
      logger: opts.logger.child({ provider }),
    }),
  };
  pw.worker.handle(typeOf(provider), {
    schema: LlmTask,
    handler: async (payload, ctx) => {
      pw.calls.set(ctx.task.id, (pw.calls.get(ctx.task.id) ?? 0) + 1);
      // ctx.log is bound to the task: taskId, type, attempt and sessionId on every line.
      ctx.log.info({ event: 'llm_call_started', model: payload.llm_model_name }, 'calling provider');
      await new Promise((r) => setTimeout(r, opts.latencyMs ?? 20));
      if (random() < pw.failureRate) {
        ctx.log.warn({ event: 'llm_call_failed', model: payload.llm_model_name }, 'provider error');
        throw new ProviderError(`${provider} answered 503 for query ${payload.query_id}`);
      }
      ctx.log.info({ event: 'llm_call_succeeded', model: payload.llm_model_name }, 'provider answered');
      return { provider, answer: `${provider} on ${payload.product_name}`, tokens: 42 };
    },
  });
  return pw;
}
