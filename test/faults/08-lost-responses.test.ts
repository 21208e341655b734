import { afterAll, describe, expect, it } from 'vitest';
import { report } from './helpers/figures.js';
import { adminQuery } from './helpers/pg.js';
import { FaultProxy } from './helpers/proxy.js';
import { type RawAnswer, raw } from './helpers/raw-http.js';
import { PgScenario } from './helpers/scenario.js';
import { spawnServer } from './helpers/server-node.js';
import { until } from './helpers/wait.js';

const N = 10;

/** Sends once with the answer dropped after the server processed it, then retries as a client would. */
async function lostThenRetried(proxy: FaultProxy, method: string, path: string, body: unknown) {
  proxy.dropNextResponse();
  const first = await raw(proxy.url, method, path, body).then(
    (a) => a,
    () => null,
  );
  const retry = await raw(proxy.url, method, path, body);
  return { firstLost: first === null, retry };
}

describe('8. Lost responses: the answer to a create or a complete is dropped after commit', () => {
  const s = new PgScenario('s8', { leaseMs: 30_000, staleAfterMs: 60_000, sweepIntervalMs: null });
  let proxy: FaultProxy | null = null;
  afterAll(async () => {
    await proxy?.close();
    await s.cleanup();
  });

  it('a retried create makes exactly one task; a retried complete makes exactly one completion', async () => {
    await s.open();
    const { url } = await spawnServer(s, { sweepIntervalMs: 500 });
    proxy = await FaultProxy.start(url);
    const queue = 'q8';
    const retries: RawAnswer[] = [];
    let lost = 0;

    // Creates with an idempotency key, and a bulk create with client ids.
    for (let i = 0; i < N; i++) {
      const r = await lostThenRetried(proxy, 'POST', '/api/v1/tasks', {
        type: 'sleep',
        queue,
        idempotencyKey: `k8-${i}`,
      });
      if (r.firstLost) lost++;
      retries.push(r.retry);
    }
    const bulkIds = Array.from({ length: N }, (_, i) => `b8-${i}`);
    const bulk = await lostThenRetried(proxy, 'POST', '/api/v1/tasks/bulk', {
      tasks: bulkIds.map((id) => ({ id, type: 'sleep', queue })),
    });
    if (bulk.firstLost) lost++;
    const createReplays = [...retries, bulk.retry];
    const createReplayOk = createReplays.filter((r) => r.status === 200).length;
    const [tasksMade] = await adminQuery<{ keyed: number; bulk: number }>(
      `select count(*) filter (where idempotency_key like 'k8-%')::int as keyed,
         count(*) filter (where id like 'b8-%')::int as bulk from ${s.schema}.tasks`,
    );

    // Completes over the worker protocol: claimed directly, reported through the faulty proxy.
    const reg = await raw(url, 'POST', '/api/v1/worker/register', {
      machineId: 'f8',
      types: ['sleep'],
      queues: [queue],
    });
    const workerId = (reg.body as { workerId: string }).workerId;
    const claim = await raw(url, 'POST', `/api/v1/worker/${workerId}/claim`, {
      types: ['sleep'],
      queues: [queue],
      limit: 2 * N,
      waitMs: 0,
    });
    const claimed = (claim.body as { tasks: Array<{ id: string; attempt: number }> }).tasks;
    const completeReplays: RawAnswer[] = [];
    // One by one for the first half, then the rest in one batch request.
    for (const t of claimed.slice(0, N)) {
      const r = await lostThenRetried(proxy, 'POST', `/api/v1/worker/${workerId}/tasks/${t.id}/complete`, {
        attempt: t.attempt,
        result: { by: 'first try' },
      });
      if (r.firstLost) lost++;
      completeReplays.push(r.retry);
    }
    const rest = claimed.slice(N);
    const batch = await lostThenRetried(proxy, 'POST', `/api/v1/worker/${workerId}/complete`, {
      items: rest.map((t) => ({ taskId: t.id, attempt: t.attempt, result: { by: 'first try' } })),
    });
    if (batch.firstLost) lost++;
    const batchBody = batch.retry.body as { completed: string[]; refused: unknown[] };
    // Completions as each task's history records them (the history the API answers with).
    const completionsOf = async (ids: string[]) =>
      Promise.all(
        ids.map(async (id) => (await s.store.getTaskEvents(id)).filter((e) => e.kind === 'completed').length),
      );
    const perTask = await completionsOf(claimed.map((t) => t.id));
    const done = {
      tasks: perTask.filter((n) => n > 0).length,
      completions: perTask.reduce((a, n) => a + n, 0),
      max_per_task: Math.max(0, ...perTask),
    };
    const completeReplayOk =
      completeReplays.filter((r) => r.status === 204).length +
      (batch.retry.status === 200 && batchBody.completed.length === rest.length ? 1 : 0);

    // End to end: a Worker over HTTP whose completion answers are dropped re-sends them and is
    // told they were applied, so it counts them completed (not lost), and each applies once.
    const wq = 'q8w';
    proxy.dropResponsesTo(/^POST \S*\/complete /, 3);
    const w = s.spawnWorker({ url: proxy.url, queue: wq, concurrency: 1, sleepMs: 50, handleSignals: true });
    await w.ready();
    const { tasks: workerTasks } = await s.store.createTasks({
      tasks: Array.from({ length: 3 }, () => ({ type: 'sleep', queue: wq })),
    });
    await until(
      async () => (await s.store.countTasks({ queue: wq })).completed === 3,
      30_000,
      'worker tasks done',
    );
    w.kill('SIGTERM');
    const summary = await w.waitFor((e) => e.ev === 'stopped', 30_000);
    const wDone = (await completionsOf(workerTasks.map((t) => t.id))).reduce((a, n) => a + n, 0);
    const workerOk = proxy.dropped >= 2 * N + 2 + 3 && summary.completed === 3 && wDone === 3;

    const pass =
      workerOk &&
      lost === 2 * N + 2 &&
      tasksMade!.keyed === N &&
      tasksMade!.bulk === N &&
      done!.tasks === 2 * N &&
      done!.completions === 2 * N &&
      createReplayOk === N + 1 &&
      completeReplayOk === N + 1;
    report({
      id: '8',
      title:
        'Lost responses: answers to creates (idempotency key, bulk ids) and completes dropped after commit, then retried',
      store: 'postgres',
      figures: {
        'answers dropped': lost,
        'tasks per key': tasksMade!.keyed / N,
        'tasks per bulk id': tasksMade!.bulk / N,
        'completions per task': done!.max_per_task,
        'create retries answered 200 (existing)': `${createReplayOk}/${N + 1}`,
        'complete retries answered as done': `${completeReplayOk}/${N + 1}`,
        'HTTP worker: completions whose answer was lost, counted completed': `${summary.completed}/3`,
      },
      bound:
        'exactly one task per key or id; exactly one completion per task; a retry is answered as the success it was',
      pass,
    });
    expect(lost).toBe(2 * N + 2);
    expect(tasksMade).toEqual({ keyed: N, bulk: N });
    expect(done).toEqual({ tasks: 2 * N, completions: 2 * N, max_per_task: 1 });
    expect(createReplays.map((r) => r.status)).toEqual(new Array(N + 1).fill(200));
    expect(completeReplays.map((r) => r.status)).toEqual(new Array(N).fill(204));
    expect(batch.retry.status).toBe(200);
    expect(batchBody.refused).toEqual([]);
    expect(batchBody.completed.sort()).toEqual(rest.map((t) => t.id).sort());
    expect(proxy.dropped).toBe(2 * N + 2 + 3);
    expect(summary.completed).toBe(3);
    expect(wDone).toBe(3);
  });
});
