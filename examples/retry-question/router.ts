import { Worker } from '@gafferhq/gaffer';
import { HttpTransport } from '@gafferhq/gaffer/worker';
import type { Logger } from 'pino';
import { z } from 'zod';

export const QUESTIONS = [
  'What is the capital of France?',
  'Summarise the GDPR in one sentence.',
  'Who won the 2018 football World Cup?',
];
export const REGIONS = ['United States', 'Europe', 'Asia Pacific'];
export const PROVIDERS = ['provider-a', 'provider-b'];

/** One execution: one question of a job in one region (seed 004's execution + question index). */
export const Execution = z.object({
  job_id: z.string(),
  question_index: z.number().int().min(0),
  question: z.object({ text: z.string(), system_prompt: z.string() }),
  region: z.string(),
  model: z.string(),
});
export type Execution = z.infer<typeof Execution>;

/**
 * A simulated hybrid router with three broken cells of the grid:
 * - question 0 in the United States hangs on whichever provider runs it first (a timeout), for good;
 * - question 1 in Europe fails the first time it runs (a transient 502);
 * - question 2 in Asia Pacific always fails (the model is not served there).
 */
export class HybridRouter {
  readonly runs = new Map<string, number>();
  readonly brokenProvider = new Map<string, string>();

  async infer(e: Execution, provider: string, signal: AbortSignal): Promise<Record<string, unknown>> {
    const cell = `${e.question_index}:${e.region}`;
    const n = (this.runs.get(cell) ?? 0) + 1;
    this.runs.set(cell, n);
    if (e.question_index === 0 && e.region === 'United States') {
      if (!this.brokenProvider.has(cell)) this.brokenProvider.set(cell, provider);
      if (this.brokenProvider.get(cell) === provider) await hang(signal);
    }
    if (e.question_index === 1 && e.region === 'Europe' && n === 1) {
      throw new Error('hybrid router answered 502 for region Europe');
    }
    if (e.question_index === 2 && e.region === 'Asia Pacific') {
      throw new Error(`model ${e.model} is not served in Asia Pacific`);
    }
    await new Promise((r) => setTimeout(r, 10));
    return { response: `answer to "${e.question.text}" from ${e.region}`, provider_id: provider, tokens: 17 };
  }
}

/** Never resolves; rejects when the worker aborts the handler (its timeout). */
function hang(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
}

/** One worker per inference provider; both serve `inference.run`, labelled so a retry can avoid one. */
export function providerWorker(url: string, provider: string, router: HybridRouter, logger: Logger): Worker {
  const worker = new Worker({
    transport: new HttpTransport({ url }),
    machineId: provider,
    labels: { provider },
    concurrency: 3,
    claimWaitMs: 1000,
    logger: logger.child({ provider }),
  });
  worker.handle('inference.run', {
    schema: Execution,
    handler: (e, ctx) => router.infer(e, provider, ctx.signal),
  });
  return worker;
}
