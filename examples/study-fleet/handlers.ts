// Handlers of the study fleet's TypeScript workers, loaded by `gaffer worker N <study> --handlers handlers.ts`.

import type { TaskContext } from '@gafferhq/gaffer';
import { z } from 'zod';

/** One assignment of a super study: its split of the parameter space. */
export const Assignment = z.object({
  study: z.string(),
  splitConfig: z.object({ from: z.number(), to: z.number(), solver: z.string() }),
  steps: z.number().int().min(1).max(1000),
});
export type Assignment = z.infer<typeof Assignment>;

/** Per-step time of this process (a slow PC gets a larger one); the payload fixes the work. */
const STEP_MS = Number(process.env.STUDY_STEP_MS ?? 100);

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason);
    });
  });

async function runAssignment(a: Assignment, ctx: TaskContext) {
  const index = ctx.task.sessionIndex;
  let sum = 0;
  for (let step = 1; step <= a.steps; step++) {
    await sleep(STEP_MS, ctx.signal);
    for (let x = a.splitConfig.from; x < a.splitConfig.to; x++) sum += x * step;
    // Progress goes on the task; the free-form state (the seed's GUI state) on the worker.
    await ctx.progress({ done: step, total: a.steps });
    await ctx.setState({ study: a.study, assignment: index, phase: 'simulating', step, of: a.steps });
  }
  await ctx.setState({ study: a.study, assignment: index, phase: 'done' });
  return { index, language: 'typescript', pid: process.pid, sum };
}

export default {
  'study.assignment': { schema: Assignment, handler: runAssignment },
};
