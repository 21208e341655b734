import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GafferClient } from '../../src/client/client.js';
import { HttpBackend } from '../../src/client/http-backend.js';
import { silentLogger } from '../../src/engine/logger.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import type { SqlStore } from '../../src/store/index.js';
import {
  type Conformance,
  client,
  conformance,
  dropSchema,
  expectProblem,
  openTestStore,
} from './helpers.js';

// Issue 14, flow control through /api/v1/limits, concurrencyKey on POST /tasks and /tasks/bulk, and the SDK over HTTP.

let store: SqlStore;
let server: RunningServer;
let call: ReturnType<typeof client>;
let conforms: Conformance;

beforeAll(async () => {
  store = await openTestStore();
  server = await startServer({
    store,
    port: 0,
    logger: silentLogger,
    maintenance: false,
    claimPollIntervalMs: 50,
  });
  call = client(server.app);
  conforms = conformance((await call('GET', '/api/openapi.json')).body);
});

afterAll(async () => {
  await server?.close();
  await store?.close();
  if (store) await dropSchema(store.options.schema);
});

async function register(queue: string): Promise<string> {
  const r = await call('POST', '/api/v1/worker/register', {
    machineId: 'm1',
    queues: [queue],
    concurrency: 10,
  });
  expect(r.status).toBe(201);
  return r.body.workerId as string;
}

async function claim(
  workerId: string,
  limit = 10,
): Promise<Array<{ id: string; concurrencyKey: string | null }>> {
  const r = await call('POST', `/api/v1/worker/${workerId}/claim`, { limit, waitMs: 0 });
  expect(r.status).toBe(200);
  return r.body.tasks;
}

describe('/api/v1/limits', () => {
  it('PUT sets limits, GET reads them with running and waiting, DELETE removes them', async () => {
    const put = await call('PUT', '/api/v1/limits/queue/api-q1', {
      concurrency: 2,
      keyConcurrency: 1,
      rate: { limit: 100, intervalMs: 1000 },
    });
    expect(put.status).toBe(200);
    conforms('PUT', '/api/v1/limits/{scope}/{name}', put);
    expect(put.body).toMatchObject({
      scope: 'queue',
      name: 'api-q1',
      concurrency: 2,
      keyConcurrency: 1,
      keyRate: null,
    });

    const bulk = await call('POST', '/api/v1/tasks/bulk', {
      tasks: [
        { type: 'llm', queue: 'api-q1', concurrencyKey: 'openai' },
        { type: 'llm', queue: 'api-q1', concurrencyKey: 'openai' },
        { type: 'llm', queue: 'api-q1', concurrencyKey: 'mistral' },
      ],
    });
    expect(bulk.status).toBe(201);
    const one = await call('POST', '/api/v1/tasks', {
      type: 'llm',
      queue: 'api-q1',
      concurrencyKey: 'cohere',
    });
    expect(one.body.task.concurrencyKey).toBe('cohere');

    const worker = await register('api-q1');
    const got = await claim(worker);
    expect(got).toHaveLength(2);
    expect(new Set(got.map((t) => t.concurrencyKey)).size).toBe(2);

    const list = await call('GET', '/api/v1/limits');
    conforms('GET', '/api/v1/limits', list);
    const row = list.body.items.find((c: { name: string }) => c.name === 'api-q1');
    expect(row).toMatchObject({ running: 2, waiting: 2 });
    const one2 = await call('GET', '/api/v1/limits/queue/api-q1');
    expect(one2.body.running).toBe(2);

    expect((await call('DELETE', '/api/v1/limits/queue/api-q1')).status).toBe(204);
    expect((await call('GET', '/api/v1/limits/queue/api-q1')).status).toBe(404);
    expect(await claim(worker)).toHaveLength(2);
    expectProblem(await call('DELETE', '/api/v1/limits/queue/api-q1'), 404, 'not_found');
  });

  it('refuses bad limits with a problem naming every invalid field', async () => {
    const bad = await call('PUT', '/api/v1/limits/queue/x', {
      concurrency: 0,
      keyConcurrency: 1.5,
      rate: { limit: 5 },
    });
    const p = expectProblem(bad, 400, 'validation');
    expect(p.errors?.map((e) => e.field).sort()).toEqual([
      'concurrency',
      'keyConcurrency',
      'rate.intervalMs',
    ]);
    const scope = expectProblem(await call('PUT', '/api/v1/limits/shelf/x', {}), 400, 'validation');
    expect(scope.field).toBe('scope');
  });

  it('pause holds a queue across claims until resume; the SDK over HTTP does the same', async () => {
    const sdk = new GafferClient(new HttpBackend({ url: server.url }));
    await sdk.enqueue('job', {}, { queue: 'api-q2' });
    const paused = await call('POST', '/api/v1/limits/queue/api-q2/pause', { by: 'ops' });
    expect(paused.status).toBe(200);
    conforms('POST', '/api/v1/limits/{scope}/{name}/pause', paused);
    expect(paused.body.control).toMatchObject({ paused: true, pausedBy: 'ops', waiting: 1 });
    const worker = await register('api-q2');
    expect(await claim(worker)).toHaveLength(0);
    const resumed = await call('POST', '/api/v1/limits/queue/api-q2/resume', {});
    expect(resumed.body).toEqual({ control: null });
    expect(await claim(worker)).toHaveLength(1);

    await sdk.setLimits({ type: 'sdk.t' }, { concurrency: 3, keyRate: { limit: 60, intervalMs: 60_000 } });
    const paused2 = await sdk.pause({ type: 'sdk.t' }, { by: 'me' });
    expect(paused2.pausedAt).toBeInstanceOf(Date);
    const [c] = await sdk.limits({ type: 'sdk.t' });
    expect(c).toMatchObject({
      scope: 'type',
      name: 'sdk.t',
      paused: true,
      concurrency: 3,
      keyRate: { limit: 60 },
    });
    expect((await sdk.resume({ type: 'sdk.t' }))?.paused).toBe(false);
    expect(await sdk.clearLimits({ type: 'sdk.t' })).toBe(true);
    expect(await sdk.limits({ type: 'sdk.t' })).toEqual([]);
  });
});
