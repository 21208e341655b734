import { type GafferClient, type Task, ValidationError } from '@gafferhq/gaffer';
import { type Execution, QUESTIONS, REGIONS } from './router.js';

/** Seed 004's RetryQuestionResponse. */
export interface RetryQuestionResponse {
  execution_id: string;
  region: string;
  question_index: number;
  status: string;
  retry_attempt: number;
  updated_at: string;
  result: { message: string; job_id: string; excluded_provider: string | null };
}

const slug = (region: string) => region.toLowerCase().replace(/[^a-z0-9]+/g, '-');
export const executionId = (jobId: string, q: number, region: string) => `${jobId}:q${q}:${slug(region)}`;

/** A job is one session: the question × region grid, cell (q, r) at index q × regions + r. */
export async function createJob(client: GafferClient, jobId: string, model = 'llama3.2-1b') {
  const tasks = QUESTIONS.flatMap((text, q) =>
    REGIONS.map((region) => ({
      id: executionId(jobId, q, region),
      type: 'inference.run',
      payload: {
        job_id: jobId,
        question_index: q,
        question: { text, system_prompt: 'Answer briefly.' },
        region,
        model,
      } satisfies Execution,
      metadata: { region, question_index: q },
    })),
  );
  return client.createSession({
    id: jobId,
    key: jobId,
    metadata: { questions: QUESTIONS.length, regions: REGIONS },
    tasks,
  });
}

/**
 * The seed's RetryQuestion handler, minus everything Gaffer now does: eligibility
 * (failed or cancelled only; a timeout is a failed attempt), the limit of 3, the
 * history entry, the atomic update that lets one of two concurrent retries win,
 * and the re-execution itself, which is durable work for the workers instead of a
 * goroutine. What is left is finding the cell and naming the provider to avoid.
 */
export async function retryQuestion(
  client: GafferClient,
  req: { jobId: string; region: string; questionIndex: number; by: string; reason: string },
): Promise<RetryQuestionResponse> {
  if (
    !Number.isInteger(req.questionIndex) ||
    req.questionIndex < 0 ||
    req.questionIndex >= QUESTIONS.length
  ) {
    throw new ValidationError(`invalid question index: ${req.questionIndex}`, { field: 'question_index' });
  }
  if (!REGIONS.includes(req.region))
    throw new ValidationError(`unknown region: ${req.region}`, { field: 'region' });
  const id = executionId(req.jobId, req.questionIndex, req.region);
  const failed = await client.get(id);
  const provider = await lastProvider(client, failed);
  const task = await client.retry(id, {
    by: req.by,
    reason: req.reason,
    avoidLabels: provider ? { provider } : undefined,
  });
  return {
    execution_id: task.id,
    region: req.region,
    question_index: req.questionIndex,
    status: task.status,
    retry_attempt: task.manualRetries,
    updated_at: task.updatedAt.toISOString(),
    result: { message: 'Retry queued successfully', job_id: req.jobId, excluded_provider: provider },
  };
}

/** The provider label of the worker that ran the last attempt ("exclude the provider that failed"). */
async function lastProvider(client: GafferClient, task: Task): Promise<string | null> {
  if (!task.workerId) return null;
  try {
    return (await client.worker(task.workerId)).labels.provider ?? null;
  } catch {
    return null;
  }
}

/** Resolves with the task once the run started by its latest retry has an outcome. */
export async function retryOutcome(client: GafferClient, id: string, timeoutMs = 15_000): Promise<Task> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const t = await client.get(id);
    const last = t.retryHistory.at(-1);
    if (last?.outcome) return t;
    if (Date.now() > deadline) throw new Error(`retry of ${id} has no outcome after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 30));
  }
}
