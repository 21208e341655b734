import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GafferClient } from '../../src/client/client.js';
import { HttpBackend } from '../../src/client/http-backend.js';
import { silentLogger } from '../../src/engine/logger.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import type { SqlStore } from '../../src/store/index.js';
import { client, conformance, dropSchema, expectProblem, openTestStore, waitFor } from './helpers.js';

let store: SqlStore;
let server: RunningServer;
let call: ReturnType<typeof client>;
let conforms: ReturnType<typeof conformance>;

beforeAll(async () => {
  store = await openTestStore();
  server = await startServer({ store, port: 0, logger: silentLogger, maintenance: false, scheduler: false });
  call = client(server.app);
  conforms = conformance((await call('GET', '/api/openapi.json')).body);
});

afterAll(async () => {
  await server?.close();
  await store?.close();
  if (store) await dropSchema(store.options.schema);
});

describe('idempotency windows over HTTP', () => {
  it('POST /tasks holds a key for idempotencyTtlMs, then the same key creates a new task', async () => {
    const body = { type: 'ttl.http', idempotencyKey: 'order-1', idempotencyTtlMs: 1500 };
    const first = await call('POST', '/api/v1/tasks', body);
    expect(first.status).toBe(201);
    conforms('POST', '/api/v1/tasks', first);
    const made = first.body.task;
    expect(Date.parse(made.idempotencyExpiresAt) - Date.parse(made.createdAt)).toBe(1500);
    const again = await call('POST', '/api/v1/tasks', body);
    expect(again.body).toMatchObject({ outcome: 'existing', task: { id: made.id } });
    // Once the window has passed (the database's clock decides), the key makes a new task.
    const next = await waitFor(async () => {
      const r = await call('POST', '/api/v1/tasks', body);
      return r.body.outcome === 'created' ? r.body.task : null;
    }, 'a new task after the window');
    expect(next.id).not.toBe(made.id);
    expect((await call('GET', `/api/v1/tasks/${made.id}`)).body.idempotencyKey).toBeNull();
  });

  it('refuses a window without a key, and the SDK over HTTP sends the window', async () => {
    const p = expectProblem(
      await call('POST', '/api/v1/tasks', { type: 'x', idempotencyTtlMs: 10 }),
      400,
      'validation',
    );
    expect(p.field).toBe('idempotencyTtlMs');
    const bad = expectProblem(
      await call('POST', '/api/v1/tasks', { type: 'x', idempotencyKey: 'k', idempotencyTtlMs: 0 }),
      400,
      'validation',
    );
    expect(bad.field).toBe('idempotencyTtlMs');
    const sdk = new GafferClient(new HttpBackend({ url: server.url }));
    const t = await sdk.enqueue('ttl.sdk', { n: 1 }, { idempotencyKey: 'sdk-1', idempotencyTtlMs: 60_000 });
    expect(t.idempotencyExpiresAt).toBeInstanceOf(Date);
    expect(t.idempotencyExpiresAt!.getTime() - t.createdAt.getTime()).toBe(60_000);
    expect(
      (await sdk.enqueue('ttl.sdk', { n: 2 }, { idempotencyKey: 'sdk-1', idempotencyTtlMs: 60_000 })).id,
    ).toBe(t.id);
  });
});
