import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GafferServer } from '../../src/server/app.js';
import type { SqlStore } from '../../src/store/index.js';
import {
  type Conformance,
  client,
  conformance,
  dropSchema,
  expectProblem,
  openTestStore,
  testServer,
} from './helpers.js';

let store: SqlStore;
let server: GafferServer;
let call: ReturnType<typeof client>;
let conforms: Conformance;

beforeAll(async () => {
  store = await openTestStore({ manualRetryLimit: 2 });
  server = await testServer(store);
  call = client(server.app);
  conforms = conformance((await call('GET', '/api/openapi.json')).body);
});

afterAll(async () => {
  await server?.close();
  await store?.close();
  if (store) await dropSchema(store.options.schema);
});

/** A task that ended failed (a dead letter), made through the store's worker side. */
let dlCount = 0;
async function deadLetter(type = 'dl'): Promise<string> {
  const queue = `dlq-${++dlCount}`;
  const created = await call('POST', '/api/v1/tasks', { type, queue, payload: { n: 1 }, maxAttempts: 1 });
  const w = await store.registerWorker({ machineId: 'm-dl', types: [type] });
  const [t] = await store.claimTasks({ workerId: w.id, queues: [queue], limit: 1 });
  expect(t?.id).toBe(created.body.task.id);
  await store.failTask({
    taskId: t!.id,
    attempt: t!.attempt,
    workerId: w.id,
    error: { message: 'provider down' },
  });
  return t!.id;
}

describe('creating tasks', () => {
  it('creates a task (201) and returns the existing one for the same id (200)', async () => {
    const a = await call('POST', '/api/v1/tasks', {
      type: 'email.send',
      id: 'job-1',
      payload: { to: 'a@b.c' },
      priority: 5,
    });
    expect(a.status).toBe(201);
    expect(a.body.outcome).toBe('created');
    expect(a.body.task).toMatchObject({
      id: 'job-1',
      type: 'email.send',
      status: 'queued',
      priority: 5,
      payload: { to: 'a@b.c' },
    });
    conforms('POST', '/api/v1/tasks', a);
    const again = await call('POST', '/api/v1/tasks', {
      type: 'email.send',
      id: 'job-1',
      payload: { to: 'x' },
    });
    expect(again.status).toBe(200);
    expect(again.body.outcome).toBe('existing');
    expect(again.body.task.payload).toEqual({ to: 'a@b.c' });
  });

  it('is idempotent by idempotencyKey', async () => {
    const a = await call('POST', '/api/v1/tasks', { type: 'x', idempotencyKey: 'order-7' });
    const b = await call('POST', '/api/v1/tasks', { type: 'x', idempotencyKey: 'order-7' });
    expect(b.status).toBe(200);
    expect(b.body.task.id).toBe(a.body.task.id);
  });

  it('retries a failed task sent again with retry: true (seed 000)', async () => {
    const id = await deadLetter('resend');
    const a = await call('POST', '/api/v1/tasks', { type: 'resend', id, retry: true });
    expect(a.status).toBe(200);
    expect(a.body.outcome).toBe('retried');
    expect(a.body.task.status).toBe('retrying');
  });

  it('honours runAt and delayMs', async () => {
    const at = new Date(Date.now() + 3600_000).toISOString();
    const a = await call('POST', '/api/v1/tasks', { type: 'later', runAt: at });
    expect(new Date(a.body.task.runAt).toISOString()).toBe(at);
    const b = await call('POST', '/api/v1/tasks', { type: 'later', delayMs: 60_000 });
    expect(new Date(b.body.task.runAt).getTime()).toBeGreaterThan(Date.now() + 50_000);
  });

  it('refuses bad input with 400 naming the field', async () => {
    expect(
      expectProblem(await call('POST', '/api/v1/tasks', { type: 'has space' }), 400, 'validation').field,
    ).toBe('type');
    expect(expectProblem(await call('POST', '/api/v1/tasks', {}), 400, 'validation').detail).toMatch(
      /type is required/,
    );
    expect(
      expectProblem(await call('POST', '/api/v1/tasks', { type: 'a', paylod: 1 }), 400, 'validation'),
    ).toMatchObject({
      field: 'paylod',
    });
    expect(
      expectProblem(await call('POST', '/api/v1/tasks', { type: 'a', priority: 'high' }), 400, 'validation')
        .field,
    ).toBe('priority');
    expect(
      expectProblem(await call('POST', '/api/v1/tasks', { type: 'a', runAt: 'tomorrow' }), 400, 'validation')
        .detail,
    ).toMatch(/runAt must be an ISO 8601/);
    expect(
      expectProblem(await call('POST', '/api/v1/tasks', { type: 'a', id: 'a b' }), 400, 'validation').field,
    ).toBe('id');
    expect(
      expectProblem(
        await call('POST', '/api/v1/tasks', { type: 'a', key: 'k'.repeat(256) }),
        400,
        'validation',
      ).field,
    ).toBe('key');
    expect(
      expectProblem(await call('POST', '/api/v1/tasks', { type: 'a', maxAttempts: 0 }), 400, 'validation')
        .field,
    ).toBe('maxAttempts');
    const bad = await server.app.inject({
      method: 'POST',
      url: '/api/v1/tasks',
      headers: { 'content-type': 'application/json' },
      payload: '{"type": ',
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('validation');
    expect(bad.json().detail).toMatch(/not valid JSON/);
    const text = await server.app.inject({
      method: 'POST',
      url: '/api/v1/tasks',
      headers: { 'content-type': 'text/plain' },
      payload: 'type=a',
    });
    expect(text.statusCode).toBe(415);
    expect(text.json().detail).toMatch(/application\/json/);
  });

  it('refuses a body over the size limit with 413', async () => {
    const a = await call('POST', '/api/v1/tasks', {
      type: 'big',
      payload: { blob: 'x'.repeat(1024 * 1024 + 10) },
    });
    expectProblem(a, 413, 'payload_too_large');
  });

  it('checks payloads against the type’s JSON Schema, naming the field', async () => {
    const put = await call('PUT', '/api/v1/task-types/scrape', {
      payloadSchema: {
        type: 'object',
        properties: { url: { type: 'string', format: 'uri' }, depth: { type: 'integer' } },
        required: ['url'],
      },
    });
    expect(put.status).toBe(200);
    expect(
      expectProblem(
        await call('POST', '/api/v1/tasks', { type: 'scrape', payload: { depth: 1 } }),
        400,
        'validation',
      ),
    ).toMatchObject({ field: 'payload.url' });
    expect(
      expectProblem(
        await call('POST', '/api/v1/tasks', { type: 'scrape', payload: { url: 'not a uri' } }),
        400,
        'validation',
      ).detail,
    ).toMatch(/payload\.url must match format "uri"/);
    const ok = await call('POST', '/api/v1/tasks', {
      type: 'scrape',
      payload: { url: 'https://shop.example/p/1', depth: 2 },
    });
    expect(ok.status).toBe(201);
  });

  it('creates in bulk all or nothing, naming the task at fault', async () => {
    const before = (await call('GET', '/api/v1/tasks/counts?type=bulk')).body.total;
    const bad = await call('POST', '/api/v1/tasks/bulk', {
      tasks: [{ type: 'bulk' }, { type: 'bulk' }, { type: 'scrape', payload: { nope: 1 } }],
    });
    expect(expectProblem(bad, 400, 'validation').field).toBe('tasks[2].payload.url');
    const badType = await call('POST', '/api/v1/tasks/bulk', { tasks: [{ type: 'bulk' }, { type: 5 }] });
    expect(expectProblem(badType, 400, 'validation').field).toBe('tasks[1].type');
    expect((await call('GET', '/api/v1/tasks/counts?type=bulk')).body.total).toBe(before);
    expectProblem(await call('POST', '/api/v1/tasks/bulk', { tasks: [] }), 400, 'validation');
    const ok = await call('POST', '/api/v1/tasks/bulk', {
      tasks: Array.from({ length: 500 }, (_, i) => ({ type: 'bulk', payload: i })),
    });
    expect(ok.status).toBe(201);
    expect(ok.body.tasks).toHaveLength(500);
    expect(ok.body.outcomes.every((o: string) => o === 'created')).toBe(true);
    conforms('POST', '/api/v1/tasks/bulk', ok);
  });
});

describe('reading tasks', () => {
  it('gets a task, 404 when absent, 400 for a malformed id', async () => {
    const a = await call('POST', '/api/v1/tasks', { type: 'read', payload: { q: 1 } });
    const got = await call('GET', `/api/v1/tasks/${a.body.task.id}`);
    expect(got.status).toBe(200);
    expect(got.body.payload).toEqual({ q: 1 });
    conforms('GET', '/api/v1/tasks/{id}', got);
    expectProblem(await call('GET', '/api/v1/tasks/nope'), 404, 'not_found');
    expect(expectProblem(await call('GET', '/api/v1/tasks/a%20b'), 400, 'validation').detail).toMatch(
      /params id/,
    );
  });

  it('lists with filters and cursor pagination', async () => {
    await call('POST', '/api/v1/tasks/bulk', {
      tasks: Array.from({ length: 7 }, (_, i) => ({
        type: 'page',
        queue: i % 2 ? 'odd' : 'even',
        userId: 'u1',
      })),
    });
    const first = await call('GET', '/api/v1/tasks?type=page&limit=3');
    expect(first.status).toBe(200);
    expect(first.body.items).toHaveLength(3);
    conforms('GET', '/api/v1/tasks', first);
    const ids = first.body.items.map((t: { id: string }) => t.id);
    let cursor = first.body.nextCursor;
    while (cursor) {
      const next = await call('GET', `/api/v1/tasks?type=page&limit=3&cursor=${cursor}`);
      ids.push(...next.body.items.map((t: { id: string }) => t.id));
      cursor = next.body.nextCursor;
    }
    expect(new Set(ids).size).toBe(7);
    const odd = await call('GET', '/api/v1/tasks?type=page&queue=odd&userId=u1');
    expect(odd.body.items).toHaveLength(3);
    const multi = await call('GET', '/api/v1/tasks?type=page,read&status=queued&status=running&order=asc');
    expect(multi.body.items.length).toBeGreaterThanOrEqual(8);
    expect(multi.body.items[0].seq).toBeLessThan(multi.body.items[1].seq);
    const counts = await call('GET', '/api/v1/tasks/counts?type=page');
    expect(counts.body).toMatchObject({ queued: 7, total: 7 });
    conforms('GET', '/api/v1/tasks/counts', counts);
  });

  it('refuses bad list parameters', async () => {
    expect(expectProblem(await call('GET', '/api/v1/tasks?limit=1001'), 400, 'validation').field).toBe(
      'limit',
    );
    expect(expectProblem(await call('GET', '/api/v1/tasks?cursor=zzz'), 400, 'validation').field).toBe(
      'cursor',
    );
    expect(expectProblem(await call('GET', '/api/v1/tasks?status=done'), 400, 'validation').field).toBe(
      'status[0]',
    );
    expect(expectProblem(await call('GET', '/api/v1/tasks?sort=x'), 400, 'validation').field).toBe('sort');
    expect(
      expectProblem(await call('GET', '/api/v1/tasks?createdAfter=yesterday'), 400, 'validation').field,
    ).toBe('createdAfter');
  });

  it('returns a task’s events in order, 404 for an unknown task', async () => {
    const a = await call('POST', '/api/v1/tasks', { type: 'ev' });
    await call('POST', `/api/v1/tasks/${a.body.task.id}/cancel`, { reason: 'not needed' });
    const ev = await call('GET', `/api/v1/tasks/${a.body.task.id}/events`);
    expect(ev.body.items.map((e: { kind: string }) => e.kind)).toEqual(['created', 'cancelled']);
    conforms('GET', '/api/v1/tasks/{id}/events', ev);
    expectProblem(await call('GET', '/api/v1/tasks/ghost/events'), 404, 'not_found');
    expectProblem(await call('GET', `/api/v1/tasks/${a.body.task.id}/events?limit=0`), 400, 'validation');
  });
});

describe('steering tasks', () => {
  it('cancels a queued task; cancelling again is a conflict', async () => {
    const a = await call('POST', '/api/v1/tasks', { type: 'c' });
    const c = await call('POST', `/api/v1/tasks/${a.body.task.id}/cancel`, { reason: 'oops', by: 'alice' });
    expect(c.status).toBe(200);
    expect(c.body.status).toBe('cancelled');
    expectProblem(await call('POST', `/api/v1/tasks/${a.body.task.id}/cancel`), 409, 'illegal_transition');
    expectProblem(await call('POST', '/api/v1/tasks/ghost/cancel'), 404, 'not_found');
    expectProblem(
      await call('POST', `/api/v1/tasks/${a.body.task.id}/cancel`, { reason: 5 }),
      400,
      'validation',
    );
  });

  it('retries by hand with history, and refuses ineligible, concurrent and over-limit retries', async () => {
    const a = await call('POST', '/api/v1/tasks', { type: 'r' });
    const id = a.body.task.id;
    await call('POST', `/api/v1/tasks/${id}/cancel`);
    const r1 = await call('POST', `/api/v1/tasks/${id}/retry`, { reason: 'try again', by: 'bob' });
    expect(r1.status).toBe(200);
    expect(r1.body.status).toBe('retrying');
    expect(r1.body.retryHistory[0]).toMatchObject({ by: 'bob', reason: 'try again' });
    expectProblem(await call('POST', `/api/v1/tasks/${id}/retry`), 409, 'conflict');
    await call('POST', `/api/v1/tasks/${id}/cancel`);
    expect((await call('POST', `/api/v1/tasks/${id}/retry`)).status).toBe(200);
    await call('POST', `/api/v1/tasks/${id}/cancel`);
    expectProblem(await call('POST', `/api/v1/tasks/${id}/retry`), 409, 'retry_limit');
    expectProblem(await call('POST', '/api/v1/tasks/ghost/retry'), 404, 'not_found');
    expectProblem(
      await call('POST', `/api/v1/tasks/${id}/retry`, { avoidLabels: { provider: 7 } }),
      400,
      'validation',
    );

    const done = await call('POST', '/api/v1/tasks', { type: 'r2' });
    const w = await store.registerWorker({ machineId: 'm', types: ['r2'] });
    const [t] = await store.claimTasks({ workerId: w.id, types: ['r2'], limit: 1 });
    await store.completeTasks([{ taskId: t!.id, attempt: t!.attempt }]);
    expectProblem(await call('POST', `/api/v1/tasks/${done.body.task.id}/retry`), 409, 'not_eligible');
  });

  it('deletes a task (204), then 404', async () => {
    const a = await call('POST', '/api/v1/tasks', { type: 'd' });
    const del = await call('DELETE', `/api/v1/tasks/${a.body.task.id}`);
    expect(del.status).toBe(204);
    expectProblem(await call('GET', `/api/v1/tasks/${a.body.task.id}`), 404, 'not_found');
    expectProblem(await call('DELETE', `/api/v1/tasks/${a.body.task.id}`), 404, 'not_found');
  });

  it('retries and cancels by filter, refusing an empty filter', async () => {
    await call('POST', '/api/v1/tasks/bulk', { tasks: [{ type: 'bf' }, { type: 'bf' }, { type: 'bf' }] });
    const c = await call('POST', '/api/v1/tasks/cancel', { filter: { type: 'bf' }, reason: 'incident' });
    expect(c.body).toMatchObject({ matched: 3, changed: 3 });
    conforms('POST', '/api/v1/tasks/cancel', c);
    const r = await call('POST', '/api/v1/tasks/retry', { filter: { type: ['bf'], status: 'cancelled' } });
    expect(r.body).toMatchObject({ matched: 3, changed: 3 });
    expect(
      expectProblem(await call('POST', '/api/v1/tasks/cancel', { filter: {} }), 400, 'validation').field,
    ).toBe('filter');
    expectProblem(
      await call('POST', '/api/v1/tasks/retry', { filter: { status: 'done' } }),
      400,
      'validation',
    );
    expectProblem(await call('POST', '/api/v1/tasks/retry', {}), 400, 'validation');
  });

  it('GET /tasks/:id says why a task waits; lists filter by waitingOn, and a bad reason is a problem naming the field', async () => {
    const queue = 'why-q';
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const made = await call('POST', '/api/v1/tasks', { type: 'why', queue, runAt: later });
    const got = await call('GET', `/api/v1/tasks/${made.body.task.id}`);
    expect(got.status).toBe(200);
    conforms('GET', '/api/v1/tasks/{id}', got);
    expect(got.body.waitingOn.map((w: { reason: string }) => w.reason)).toEqual([
      'scheduled',
      'no_live_worker',
    ]);
    expect(got.body.waitingOn[0].until).toBe(later);
    const listed = await call('GET', `/api/v1/tasks?queue=${queue}&waitingOn=scheduled`);
    expect(listed.body.items.map((t: { id: string }) => t.id)).toEqual([made.body.task.id]);
    const counted = await call('GET', `/api/v1/tasks/counts?queue=${queue}&waitingOn=no_live_worker`);
    expect(counted.body.queued).toBe(1);
    const bad = expectProblem(await call('GET', '/api/v1/tasks?waitingOn=lunch'), 400, 'validation');
    expect(bad.errors?.map((e) => e.field)).toContain('waitingOn');
  });
});
