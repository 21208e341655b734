import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GafferServer } from '../../src/server/app.js';
import type { SqlStore } from '../../src/store/index.js';
import { client, dropSchema, expectProblem, openTestStore, testServer } from './helpers.js';

let store: SqlStore;
let server: GafferServer;
let call: ReturnType<typeof client>;

beforeAll(async () => {
  store = await openTestStore();
  server = await testServer(store);
  call = client(server.app);
});

afterAll(async () => {
  await server?.close();
  await store?.close();
  if (store) await dropSchema(store.options.schema);
});

const W = '/api/v1/worker';

async function register(types: string[], extra: Record<string, unknown> = {}): Promise<string> {
  const a = await call('POST', `${W}/register`, { machineId: 'box-1', types, ...extra });
  expect(a.status).toBe(201);
  return a.body.workerId;
}

/** Creates one task of a fresh queue and claims it for a new worker: a held attempt. */
let n = 0;
async function held(type = 'wp') {
  const queue = `q${++n}`;
  const created = await call('POST', '/api/v1/tasks', {
    type,
    queue,
    maxAttempts: 2,
    backoff: { baseMs: 10, jitter: 0 },
  });
  const workerId = await register([type], { queues: [queue] });
  const claim = await call('POST', `${W}/${workerId}/claim`, { limit: 5 });
  expect(claim.body.tasks.map((t: { id: string }) => t.id)).toEqual([created.body.task.id]);
  const task = claim.body.tasks[0];
  return { workerId, taskId: task.id as string, attempt: task.attempt as number, queue };
}

describe('registering and claiming', () => {
  it('registers with a fresh id and the server’s lease settings', async () => {
    const a = await call('POST', `${W}/register`, {
      machineId: 'box-1',
      name: 'slot-1',
      types: ['a'],
      concurrency: 4,
    });
    expect(a.status).toBe(201);
    expect(a.body).toMatchObject({ leaseMs: 30_000, staleAfterMs: 60_000, heartbeatMs: 10_000 });
    const b = await call('POST', `${W}/register`, { machineId: 'box-1', name: 'slot-1', types: ['a'] });
    expect(b.body.workerId).not.toBe(a.body.workerId);
    // Same machine and slot: the earlier worker is stale at once (R4.1).
    expect((await store.getWorker(a.body.workerId)).stale).toBe(true);
    expectProblem(await call('POST', `${W}/register`, { types: ['a'] }), 400, 'validation');
    expect(
      expectProblem(
        await call('POST', `${W}/register`, { machineId: 'm', types: ['no space'] }),
        400,
        'validation',
      ).field,
    ).toBe('types[0]');
    expectProblem(await call('POST', `${W}/register`, { machineId: 'm', concurrency: 0 }), 400, 'validation');
  });

  it('claims by the registered types when the claim names none, oldest first, up to the limit', async () => {
    const workerId = await register(['only.this']);
    await call('POST', '/api/v1/tasks/bulk', {
      tasks: [
        { type: 'not.this' },
        { type: 'only.this', payload: 1 },
        { type: 'only.this', payload: 2 },
        { type: 'only.this', payload: 3 },
      ],
    });
    const a = await call('POST', `${W}/${workerId}/claim`, { limit: 2 });
    expect(a.body.tasks.map((t: { payload: unknown }) => t.payload)).toEqual([1, 2]);
    expect(a.body.tasks[0]).toMatchObject({ attempt: 1, workerId });
    expect((await call('GET', `/api/v1/tasks/${a.body.tasks[0].id}`)).body.status).toBe('running');
    expect(new Date(a.body.tasks[0].leaseExpiresAt).getTime()).toBeGreaterThan(Date.now());
    const b = await call('POST', `${W}/${workerId}/claim`, {});
    expect(b.body.tasks.map((t: { payload: unknown }) => t.payload)).toEqual([3]);
    const c = await call('POST', `${W}/${workerId}/claim`, { waitMs: 0 });
    expect(c.body.tasks).toEqual([]);
  });

  it('long-polls and answers as soon as a task is created (no poll interval involved)', async () => {
    // This server's fallback poll is a minute: only the wake-up can answer in time.
    const slow = await testServer(store, { claimPollIntervalMs: 60_000 });
    try {
      const api = client(slow.app);
      const workerId = (await api('POST', `${W}/register`, { machineId: 'lp', types: ['lp'] })).body.workerId;
      const started = Date.now();
      const pending = api('POST', `${W}/${workerId}/claim`, { waitMs: 15_000 });
      await new Promise((r) => setTimeout(r, 150));
      expect(Date.now() - started).toBeLessThan(1000);
      const createdAt = Date.now();
      const created = await api('POST', '/api/v1/tasks', { type: 'lp' });
      const claimed = await pending;
      const latency = Date.now() - createdAt;
      expect(claimed.body.tasks.map((t: { id: string }) => t.id)).toEqual([created.body.task.id]);
      expect(latency).toBeLessThan(1000);
    } finally {
      await slow.close();
    }
  });

  it('answers an empty long-poll after waitMs, and refuses waits over 20 s', async () => {
    const workerId = await register(['empty']);
    const t0 = Date.now();
    const a = await call('POST', `${W}/${workerId}/claim`, { waitMs: 300 });
    expect(a.body.tasks).toEqual([]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
    expect(
      expectProblem(await call('POST', `${W}/${workerId}/claim`, { waitMs: 20_001 }), 400, 'validation')
        .field,
    ).toBe('waitMs');
    expectProblem(await call('POST', `${W}/${workerId}/claim`, { limit: 1001 }), 400, 'validation');
  });

  it('refuses claims from unknown or stale workers with 409 worker_not_live', async () => {
    expectProblem(await call('POST', `${W}/ghost/claim`, {}), 409, 'worker_not_live');
    expectProblem(
      await call('POST', `${W}/ghost/claim`, { types: ['x'], queues: ['default'] }),
      409,
      'worker_not_live',
    );
    const workerId = await register(['x']);
    await call('DELETE', `${W}/${workerId}`);
    expect(
      expectProblem(await call('POST', `${W}/${workerId}/claim`, {}), 409, 'worker_not_live').detail,
    ).toMatch(/register again/);
  });

  it('claims assignment N of a session: 409 when held, 404 when absent', async () => {
    const s = await call('POST', '/api/v1/sessions', {
      id: 'study-1',
      tasks: [{ type: 'sim' }, { type: 'sim' }, { type: 'sim' }],
    });
    expect(s.status).toBe(201);
    const workerId = await register(['sim']);
    const a = await call('POST', `${W}/${workerId}/claim-session`, { sessionId: 'study-1', index: 2 });
    expect(a.body.task.sessionIndex).toBe(2);
    expectProblem(
      await call('POST', `${W}/${workerId}/claim-session`, { sessionId: 'study-1', index: 2 }),
      409,
      'conflict',
    );
    expectProblem(
      await call('POST', `${W}/${workerId}/claim-session`, { sessionId: 'study-1', index: 9 }),
      404,
      'not_found',
    );
    expectProblem(
      await call('POST', `${W}/${workerId}/claim-session`, { sessionId: 'nope' }),
      404,
      'not_found',
    );
    const next = await call('POST', `${W}/${workerId}/claim-session`, { sessionId: 'study-1' });
    expect(next.body.task.sessionIndex).toBe(0);
    expectProblem(
      await call('POST', `${W}/${workerId}/claim-session`, { sessionId: 'study-1', index: -1 }),
      400,
      'validation',
    );
  });
});

describe('reporting on a held attempt', () => {
  it('completes once; another worker completing it after is 409 lease_lost; an unknown task 404', async () => {
    const h = await held();
    const url = `${W}/${h.workerId}/tasks/${h.taskId}`;
    expect((await call('POST', `${url}/complete`, { attempt: h.attempt, result: { ok: true } })).status).toBe(
      204,
    );
    const task = await store.getTask(h.taskId);
    expect(task).toMatchObject({ status: 'completed', result: { ok: true } });
    const other = await register(['wp']);
    const late = await call('POST', `${W}/${other}/tasks/${h.taskId}/complete`, {
      attempt: h.attempt,
      result: 2,
    });
    expect(expectProblem(late, 409, 'lease_lost').detail).toMatch(/completed/);
    expect((await store.getTask(h.taskId)).result).toEqual({ ok: true });
    expectProblem(
      await call('POST', `${W}/${h.workerId}/tasks/ghost/complete`, { attempt: 1 }),
      404,
      'not_found',
    );
    expectProblem(await call('POST', `${url}/complete`, {}), 400, 'validation');
  });

  it('refuses every write of an attempt whose lease lapsed', async () => {
    const h = await held();
    const url = `${W}/${h.workerId}/tasks/${h.taskId}`;
    // The lease lapses (the sweep runs with a clock past it): the task goes back, attempt 1 is lost.
    await store.rescueLeases({ now: new Date(Date.now() + 31_000) });
    expect((await store.getTask(h.taskId)).status).toBe('retrying');
    for (const [path, body] of [
      ['complete', { attempt: h.attempt }],
      ['fail', { attempt: h.attempt, error: { message: 'late' } }],
      ['progress', { attempt: h.attempt, progress: 0.5 }],
      ['extend', { attempt: h.attempt }],
      ['hand-back', { attempt: h.attempt }],
    ] as const) {
      expectProblem(await call('POST', `${url}/${path}`, body), 409, 'lease_lost');
    }
  });

  it('completes many at once, naming those refused', async () => {
    const a = await held();
    const b = await held();
    await store.cancelTask({ taskId: b.taskId });
    await store.failTask({
      taskId: b.taskId,
      attempt: b.attempt,
      error: { message: 'x', kind: 'cancelled' },
    });
    const res = await call('POST', `${W}/${a.workerId}/complete`, {
      items: [
        { taskId: a.taskId, attempt: a.attempt, result: 1 },
        { taskId: b.taskId, attempt: b.attempt, result: 2 },
      ],
    });
    expect(res.body).toEqual({ completed: [a.taskId], refused: [{ taskId: b.taskId, attempt: b.attempt }] });
    expectProblem(await call('POST', `${W}/${a.workerId}/complete`, { items: [] }), 400, 'validation');
  });

  it('fails: retryable goes to retrying, then non-retryable dead-letters', async () => {
    const h = await held();
    const url = `${W}/${h.workerId}/tasks/${h.taskId}`;
    const f = await call('POST', `${url}/fail`, {
      attempt: h.attempt,
      error: { message: 'timeout talking to provider', name: 'FetchError' },
    });
    expect(f.body).toEqual({ status: 'retrying' });
    const again = await call('POST', `${W}/${h.workerId}/claim`, { waitMs: 5000 });
    expect(again.body.tasks[0]).toMatchObject({ id: h.taskId, attempt: 2 });
    const f2 = await call('POST', `${url}/fail`, {
      attempt: 2,
      error: { message: 'bad payload', retryable: false },
    });
    expect(f2.body).toEqual({ status: 'failed' });
    const t = await store.getTask(h.taskId);
    expect(t.error).toMatchObject({ message: 'bad payload', retryable: false });
    expectProblem(await call('POST', `${url}/fail`, { attempt: 2, error: {} }), 400, 'validation');
  });

  it('extends the lease, records progress, hands back without spending an attempt', async () => {
    const h = await held();
    const url = `${W}/${h.workerId}/tasks/${h.taskId}`;
    const ext = await call('POST', `${url}/extend`, { attempt: h.attempt, leaseMs: 120_000 });
    expect(new Date(ext.body.leaseExpiresAt).getTime()).toBeGreaterThan(Date.now() + 100_000);
    expect(
      (await call('POST', `${url}/progress`, { attempt: h.attempt, progress: { done: 3, total: 10 } }))
        .status,
    ).toBe(204);
    expect((await store.getTask(h.taskId)).progress).toEqual({ done: 3, total: 10 });
    expect((await call('POST', `${url}/hand-back`, { attempt: h.attempt })).status).toBe(204);
    const t = await store.getTask(h.taskId);
    expect(t.status).toBe('queued');
    expect(t.attempt - t.attemptFloor).toBe(0);
    expectProblem(await call('POST', `${url}/extend`, { attempt: h.attempt, leaseMs: 5 }), 400, 'validation');

    const h2 = await held();
    const many = await call('POST', `${W}/${h2.workerId}/hand-back`, {
      items: [{ taskId: h2.taskId, attempt: h2.attempt }],
    });
    expect(many.body).toEqual({ handedBack: [h2.taskId] });
  });

  it('heartbeats: keeps the worker live, carries cancellations and names lost attempts', async () => {
    const h = await held();
    const beat = await call('POST', `${W}/${h.workerId}/heartbeat`, {
      held: [
        { taskId: h.taskId, attempt: h.attempt },
        { taskId: 'ghost', attempt: 1 },
      ],
      stats: { processed: 3, failed: 1 },
      state: { phase: 'warming up' },
    });
    expect(beat.body).toMatchObject({
      live: true,
      extended: 1,
      cancelled: [],
      lost: [{ taskId: 'ghost', attempt: 1 }],
    });
    await call('POST', `/api/v1/tasks/${h.taskId}/cancel`, { reason: 'user gave up' });
    const beat2 = await call('POST', `${W}/${h.workerId}/heartbeat`, {
      held: [{ taskId: h.taskId, attempt: h.attempt }],
    });
    expect(beat2.body.cancelled).toEqual([{ taskId: h.taskId, attempt: h.attempt }]);
    const w = await store.getWorker(h.workerId);
    expect(w.state).toEqual({ phase: 'warming up' });
    expect(w.stats).toMatchObject({ processed: 3, failed: 1 });
    const dead = await register(['x']);
    await call('DELETE', `${W}/${dead}`);
    expect((await call('POST', `${W}/${dead}/heartbeat`, {})).body.live).toBe(false);
    expectProblem(
      await call('POST', `${W}/${dead}/heartbeat`, { held: [{ taskId: 'a' }] }),
      400,
      'validation',
    );
  });

  it('sets state; deregistering returns held tasks and makes the worker stale', async () => {
    const h = await held();
    expect((await call('PUT', `${W}/${h.workerId}/state`, { state: { gpu: 'busy' } })).status).toBe(204);
    expect((await store.getWorker(h.workerId)).state).toEqual({ gpu: 'busy' });
    expectProblem(await call('PUT', `${W}/ghost/state`, { state: 1 }), 404, 'not_found');
    expect((await call('DELETE', `${W}/${h.workerId}`)).status).toBe(204);
    expect((await store.getWorker(h.workerId)).stale).toBe(true);
    expect((await store.getTask(h.taskId)).status).toBe('retrying');
    expectProblem(await call('DELETE', `${W}/ghost`), 404, 'not_found');
  });
});
