import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
let openapi: { openapi: string; paths: Record<string, unknown> };

beforeAll(async () => {
  store = await openTestStore();
  server = await testServer(store);
  call = client(server.app);
  openapi = (await call('GET', '/api/openapi.json')).body;
  conforms = conformance(openapi);
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

describe('dead letters', () => {
  it('lists, redrives one and many, and deletes dead letters', async () => {
    const id1 = await deadLetter();
    const id2 = await deadLetter();
    const list = await call('GET', '/api/v1/dead-letters?type=dl');
    expect(list.body.items.map((t: { id: string }) => t.id).sort()).toEqual([id1, id2].sort());
    expect(list.body.items[0].error.message).toBe('provider down');
    conforms('GET', '/api/v1/dead-letters', list);
    expectProblem(await call('GET', '/api/v1/dead-letters?status=failed'), 400, 'validation');

    const one = await call('POST', `/api/v1/dead-letters/${id1}/retry`, { reason: 'fixed' });
    expect(one.body.status).toBe('retrying');
    expectProblem(await call('POST', `/api/v1/dead-letters/${id1}/retry`), 409, 'not_eligible');
    expectProblem(await call('POST', '/api/v1/dead-letters/ghost/retry'), 404, 'not_found');

    const id3 = await deadLetter();
    const many = await call('POST', '/api/v1/dead-letters/retry', {
      filter: { type: 'dl', errorContains: 'PROVIDER' },
    });
    expect(many.body.ids.sort()).toEqual([id2, id3].sort());

    const id4 = await deadLetter('dl2');
    expect((await call('DELETE', `/api/v1/dead-letters/${id4}`)).status).toBe(204);
    expectProblem(await call('DELETE', `/api/v1/dead-letters/${id4}`), 404, 'not_found');
    expectProblem(await call('DELETE', `/api/v1/dead-letters/${id1}`), 409, 'not_eligible');
  });
});

describe('task types', () => {
  it('declares, reads and lists types; refuses bad ones', async () => {
    const put = await call('PUT', '/api/v1/task-types/report', {
      tracking: 'hold',
      maxAttempts: 5,
      timeoutMs: 60_000,
    });
    expect(put.body).toMatchObject({ type: 'report', tracking: 'hold', maxAttempts: 5, timeoutMs: 60_000 });
    conforms('PUT', '/api/v1/task-types/{type}', put);
    const got = await call('GET', '/api/v1/task-types/report');
    expect(got.body.tracking).toBe('hold');
    const list = await call('GET', '/api/v1/task-types');
    expect(list.body.items.map((t: { type: string }) => t.type)).toContain('report');
    conforms('GET', '/api/v1/task-types', list);
    expectProblem(await call('GET', '/api/v1/task-types/unknown'), 404, 'not_found');
    expect(
      expectProblem(await call('PUT', '/api/v1/task-types/report', { tracking: 'keep' }), 400, 'validation')
        .field,
    ).toBe('tracking');
    expect(
      expectProblem(
        await call('PUT', '/api/v1/task-types/report', { payloadSchema: { type: 'objekt' } }),
        400,
        'validation',
      ).detail,
    ).toMatch(/not a valid JSON Schema/);
    expectProblem(await call('PUT', '/api/v1/task-types/bad%20name', {}), 400, 'validation');
    const task = await call('POST', '/api/v1/tasks', { type: 'report' });
    expect(task.body.task).toMatchObject({ maxAttempts: 5, timeoutMs: 60_000, tracking: 'hold' });
  });
});

describe('the rest of the surface', () => {
  it('serves health, readiness, OpenAPI 3.1 and rendered docs', async () => {
    expect((await call('GET', '/healthz')).body).toEqual({ status: 'ok' });
    expect((await call('GET', '/readyz')).body).toEqual({ status: 'ready', store: 'postgres' });
    expect(openapi.openapi).toBe('3.1.0');
    for (const p of [
      '/api/v1/tasks',
      '/api/v1/sessions',
      '/api/v1/worker/{workerId}/claim',
      '/api/v1/entries/{shortId}',
    ]) {
      expect(openapi.paths[p], p).toBeDefined();
    }
    expect(Object.keys(openapi.paths).length).toBeGreaterThan(35);
    const docs = await server.app.inject({ method: 'GET', url: '/api/docs' });
    expect(docs.statusCode).toBe(200);
    expect(docs.body).toMatch(/swagger/i);
  });

  it('answers an unknown API route with a problem 404', async () => {
    expectProblem(await call('GET', '/api/v1/nothing-here'), 404, 'not_found');
    expectProblem(await call('POST', '/api/v1/tasks/x/explode'), 404, 'not_found');
  });

  it('serves the dashboard with an SPA fallback, or says how to build it', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'gaffer-web-'));
    const built = mkdtempSync(join(tmpdir(), 'gaffer-web-'));
    writeFileSync(join(built, 'index.html'), '<html><body>the gaffer app</body></html>');
    writeFileSync(join(built, 'app.js'), 'console.log(1)');
    const a = await testServer(store, { dashboardDir: empty });
    const b = await testServer(store, { dashboardDir: built });
    try {
      const placeholder = await a.app.inject({ method: 'GET', url: '/' });
      expect(placeholder.statusCode).toBe(200);
      expect(placeholder.body).toMatch(/dashboard not built: run npm run build:web/);
      expect((await b.app.inject({ method: 'GET', url: '/' })).body).toMatch(/the gaffer app/);
      expect((await b.app.inject({ method: 'GET', url: '/app.js' })).body).toMatch(/console/);
      const deep = await b.app.inject({ method: 'GET', url: '/sessions/abc' });
      expect(deep.statusCode).toBe(200);
      expect(deep.body).toMatch(/the gaffer app/);
      expect((await b.app.inject({ method: 'GET', url: '/missing.css' })).statusCode).toBe(404);
      expect((await b.app.inject({ method: 'GET', url: '/api/v1/missing' })).json().code).toBe('not_found');
    } finally {
      await a.close();
      await b.close();
      rmSync(empty, { recursive: true, force: true });
      rmSync(built, { recursive: true, force: true });
    }
  });
});
