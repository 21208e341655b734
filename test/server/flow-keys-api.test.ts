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

// Issue 14, item 5: debounce and throttle through POST /tasks, /tasks/bulk and the SDK over HTTP.

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

describe('POST /tasks with debounce and throttle', () => {
  it('debounces: 201 created, then 200 debounced with the same task, its payload replaced', async () => {
    const body = (v: number) => ({ type: 'digest', payload: { v }, debounce: { key: 'user-1', ms: 60_000 } });
    const first = await call('POST', '/api/v1/tasks', body(1));
    expect(first.status).toBe(201);
    expect(first.body.outcome).toBe('created');
    const second = await call('POST', '/api/v1/tasks', body(2));
    expect(second.status).toBe(200);
    conforms('POST', '/api/v1/tasks', second);
    expect(second.body).toMatchObject({
      outcome: 'debounced',
      task: { id: first.body.task.id, payload: { v: 2 } },
    });
    expect(new Date(second.body.task.runAt).getTime()).toBeGreaterThanOrEqual(
      new Date(first.body.task.runAt).getTime(),
    );
    const events = await call('GET', `/api/v1/tasks/${first.body.task.id}/events`);
    expect(events.body.items.map((e: { kind: string }) => e.kind)).toContain('debounced');
  });

  it('throttles: the second create in the window answers the first task', async () => {
    const body = { type: 'sync', payload: {}, throttle: { key: 'acct-9', ms: 60_000 } };
    const first = await call('POST', '/api/v1/tasks', body);
    const second = await call('POST', '/api/v1/tasks', body);
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ outcome: 'throttled', task: { id: first.body.task.id } });
    const bulk = await call('POST', '/api/v1/tasks/bulk', { tasks: [body, { type: 'sync' }] });
    conforms('POST', '/api/v1/tasks/bulk', bulk);
    expect(bulk.body.outcomes).toEqual(['throttled', 'created']);
    expect(bulk.body.tasks[0].id).toBe(first.body.task.id);
  });

  it('names every invalid field of the keys in one problem', async () => {
    const a = await call('POST', '/api/v1/tasks', {
      type: 'x',
      debounce: { key: '', ms: 0 },
      throttle: { key: 'k', ms: 5 },
      delayMs: 10,
    });
    const p = expectProblem(a, 400, 'validation');
    expect(p.errors?.map((e) => e.field).sort()).toEqual([
      'debounce.key',
      'debounce.ms',
      'delayMs',
      'throttle',
    ]);
    const clash = expectProblem(
      await call('POST', '/api/v1/tasks', {
        type: 'x',
        debounce: { key: 'k', ms: 5 },
        throttle: { key: 'k', ms: 5 },
        delayMs: 10,
      }),
      400,
      'validation',
    );
    expect(clash.errors?.map((e) => e.field).sort()).toEqual(['delayMs', 'throttle']);
    const session = await call('POST', '/api/v1/sessions', {
      tasks: [{ type: 'x', throttle: { key: 'k', ms: 5 } }],
    });
    expect(expectProblem(session, 400, 'validation').errors?.[0]?.field).toMatch(/throttle/);
  });

  it('the SDK over HTTP sends the keys and reads the outcomes', async () => {
    const sdk = new GafferClient(new HttpBackend({ url: server.url }));
    const opts = { debounce: { key: 'sdk', ms: 60_000 } };
    const a = await sdk.enqueueMany([{ type: 'sdk.t', payload: { v: 1 }, ...opts }]);
    const b = await sdk.enqueueMany([{ type: 'sdk.t', payload: { v: 2 }, ...opts }]);
    expect(a.outcomes).toEqual(['created']);
    expect(b.outcomes).toEqual(['debounced']);
    const task = await sdk.enqueue('sdk.t', { v: 3 }, opts);
    expect(task).toMatchObject({ id: a.tasks[0]!.id, payload: { v: 3 } });
  });
});
