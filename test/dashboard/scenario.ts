import { NonRetryableError } from '../../src/core/errors.js';
import type { Task, Worker as WorkerRow } from '../../src/store/types.js';
import type { TaskContext, Worker } from '../../src/worker/worker.js';
import { type Dashboard, until } from './harness.js';

/** Waits for the release, or throws when the task's signal fires (shutdown, cancel). */
function hold(release: Promise<void>, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    void release.then(resolve);
  });
}

export interface Scenario {
  study: { id: string; tasks: Task[] };
  cart: { id: string };
  emails: Task[];
  bounced: Task[];
  simWorkers: Worker[];
  mailer: Worker;
  staleWorker: WorkerRow;
  /** Lets the held simulation assignments finish. */
  release(): void;
}

/**
 * A small but realistic workload, run by real workers: a "super study" session of eight
 * indexed simulation assignments (two held mid-way, one that fails once and is retried),
 * a fan-out session of LLM calls, e-mails of which three bounce into the dead letters,
 * an LLM call that exhausts its attempts, a report no worker takes, and a worker that went stale.
 */
export async function seedScenario(d: Dashboard): Promise<Scenario> {
  const { client, store } = d;
  // A worker from an earlier run of lab-pc-03 that stopped beating: stale before the live fleet starts.
  const staleWorker = await store.registerWorker({
    machineId: 'lab-pc-03',
    name: 'slot-1',
    types: ['sim.assignment'],
  });
  await store.markStaleWorkers({ now: new Date(Date.now() + 120_000) });

  let releaseHeld!: () => void;
  const held = new Promise<void>((r) => {
    releaseHeld = r;
  });
  const simHandler = async (p: { index: number; cells: number }, ctx: TaskContext) => {
    await ctx.setState({ status: `running assignment ${p.index}`, study: ctx.task.sessionId });
    await ctx.progress({ done: 2, total: 10, message: 'meshing' });
    if (p.index === 3 && ctx.attempt === 1) throw new Error('solver diverged at step 1812 (residual 4.2e+3)');
    if (p.index >= 5 && p.index <= 6) {
      await ctx.progress({ done: p.index === 5 ? 4 : 7, total: 10, message: 'solving' });
      await hold(held, ctx.signal);
    }
    await ctx.progress({ done: 10, total: 10, message: 'done' });
    return { cells: p.cells, sar: Math.round(p.cells * 0.137) / 100 };
  };
  const simWorkers = [
    await d.startWorker(
      { machineId: 'lab-pc-01', name: 'slot-1', concurrency: 2, queues: ['sim'] },
      { 'sim.assignment': simHandler },
    ),
    await d.startWorker(
      { machineId: 'lab-pc-02', name: 'slot-1', concurrency: 2, queues: ['sim'] },
      { 'sim.assignment': simHandler },
    ),
  ];
  const mailer = await d.startWorker(
    { machineId: 'mail-01', concurrency: 4, queues: ['email'] },
    {
      'email.send': async (p: { to: string }) => {
        if (p.to.startsWith('bounce')) throw new NonRetryableError(`550 mailbox unavailable: ${p.to}`);
        return { messageId: `<${p.to.replace('@', '.')}@mail-01>` };
      },
    },
  );
  await d.startWorker(
    { machineId: 'gpu-01', concurrency: 4, queues: ['llm'], labels: { provider: 'openai' } },
    {
      'llm.complete': async (p: { provider: string; prompt: string }) => {
        if (p.provider === 'flaky') throw new Error('upstream 503 from provider');
        return { text: `(${p.provider}) ${p.prompt.slice(0, 20)}…`, tokens: 128 };
      },
    },
  );

  const study = await client.createSession({
    id: 'study-42',
    key: 'study-42',
    userId: 'ada',
    queue: 'sim',
    metadata: { name: 'SAR sweep, phantom v3' },
    tasks: Array.from({ length: 8 }, (_, index) => ({
      type: 'sim.assignment',
      payload: { index, cells: 4000 + index * 250 },
    })),
  });
  const cart = await client.createSession({
    id: 'cart-991',
    key: 'cart-991',
    userId: 'bob',
    queue: 'llm',
    tasks: ['openai', 'anthropic', 'mistral', 'gemini'].map((provider) => ({
      type: 'llm.complete',
      payload: { provider, prompt: 'Summarise the basket of cart 991' },
    })),
  });
  const to = [
    'ada',
    'bob',
    'chen',
    'dana',
    'bounce-eve',
    'farid',
    'gus',
    'bounce-hana',
    'ivan',
    'bounce-jo',
    'kim',
    'lee',
  ];
  const { tasks: emails } = await client.enqueueMany(
    to.map((name) => ({
      type: 'email.send',
      queue: 'email',
      payload: { to: `${name}@example.com` },
      userId: 'newsletter',
    })),
  );
  await client.enqueueMany([
    {
      type: 'llm.complete',
      queue: 'llm',
      maxAttempts: 2,
      backoff: { baseMs: 50, maxMs: 100 },
      payload: { provider: 'flaky', prompt: 'Classify ticket 5521' },
    },
  ]);

  // Work no worker takes: the "no live worker" alert's case.
  await client.enqueue('report.render', { report: 'monthly-usage' }, { queue: 'reports' });

  await until(async () => {
    const s = await store.getSession('study-42');
    return s.counts.completed === 6 && s.counts.running === 2;
  }, 30_000);
  await until(
    async () =>
      (await client.count({ queue: 'email' })).failed === 3 &&
      (await client.count({ queue: 'email' })).completed === 9,
  );
  await until(
    async () =>
      (await client.count({ queue: 'llm' })).failed === 1 &&
      (await client.count({ queue: 'llm' })).completed === 4,
  );
  const bounced = emails.filter((t) => (t.payload as { to: string }).to.startsWith('bounce'));
  return {
    study: { id: study.session.id, tasks: study.tasks },
    cart: { id: cart.session.id },
    emails,
    bounced,
    simWorkers,
    mailer,
    staleWorker,
    release: releaseHeld,
  };
}
