import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/engine/logger.js';
import type { GafferServer } from '../../src/server/app.js';
import { isLoopback, ServeRefusedError, startServer } from '../../src/server/serve.js';
import type { SqlStore } from '../../src/store/index.js';
import { client, dropSchema, expectProblem, openTestStore, testServer } from './helpers.js';

let store: SqlStore;
let server: GafferServer;
let call: ReturnType<typeof client>;
const logLines: string[] = [];
const tokens: Record<'admin' | 'producer' | 'worker' | 'worker2', { id: string; token: string }> =
  {} as never;

const as = (who: keyof typeof tokens) => ({ authorization: `Bearer ${tokens[who].token}` });

beforeAll(async () => {
  store = await openTestStore();
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logLines.push(String(chunk));
      cb();
    },
  });
  server = await testServer(store, { logger: pino({ level: 'debug' }, sink) });
  call = client(server.app);
});

afterAll(async () => {
  await server?.close();
  await store?.close();
  if (store) await dropSchema(store.options.schema);
});

describe('before any token exists', () => {
  it('needs no token, and will not listen beyond loopback', async () => {
    expect((await call('GET', '/api/v1/tasks')).status).toBe(200);
    expect(isLoopback('127.0.0.1') && isLoopback('::1') && isLoopback('localhost')).toBe(true);
    expect(isLoopback('0.0.0.0') || isLoopback('192.168.1.4') || isLoopback('::')).toBe(false);
    const err = await startServer({
      store,
      host: '0.0.0.0',
      port: 0,
      logger: silentLogger,
      maintenance: false,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServeRefusedError);
    expect((err as Error).message).toMatch(/no API tokens exist.*gaffer token create.*127\.0\.0\.1/);
  });
});

describe('with tokens', () => {
  beforeAll(async () => {
    // The first token is made over loopback while auth is still off; after that, auth is on.
    const admin = await call('POST', '/api/v1/tokens', { name: 'ops', role: 'admin' });
    expect(admin.status).toBe(201);
    tokens.admin = admin.body;
    for (const [name, role] of [
      ['producer', 'producer'],
      ['worker', 'worker'],
      ['worker2', 'worker'],
    ] as const) {
      const t = await call('POST', '/api/v1/tokens', { name, role }, as('admin'));
      expect(t.status).toBe(201);
      tokens[name] = t.body;
    }
  });

  it('stores only a hash, never shows or logs a secret', async () => {
    const rows = await store.db.query<{ hash: string }>('select hash from api_tokens where id = $1', [
      tokens.admin.id,
    ]);
    expect(rows.rows[0]!.hash).toBe(createHash('sha256').update(tokens.admin.token).digest('hex'));
    const list = await call('GET', '/api/v1/tokens', undefined, as('admin'));
    expect(list.body.items).toHaveLength(4);
    expect(JSON.stringify(list.body)).not.toContain(tokens.admin.token);
    expect(list.body.items[0]).not.toHaveProperty('token');
    await call('GET', '/api/v1/tasks', undefined, as('producer'));
    const logs = logLines.join('');
    expect(logs).toContain('token_created');
    for (const t of Object.values(tokens)) expect(logs).not.toContain(t.token);
  });

  it('answers 401 without a token or with an unknown one; health and the dashboard stay open', async () => {
    const noToken = await call('GET', '/api/v1/tasks');
    expect(noToken.headers['www-authenticate']).toMatch(/^Bearer/);
    const none = expectProblem(noToken, 401, 'unauthorized');
    expect(none.detail).toMatch(/Authorization: Bearer/);
    expectProblem(
      await call('GET', '/api/v1/tasks', undefined, { authorization: 'Bearer gaffer_wrong' }),
      401,
      'unauthorized',
    );
    expectProblem(
      await call('GET', '/api/v1/tasks', undefined, { authorization: 'Basic abc' }),
      401,
      'unauthorized',
    );
    expectProblem(await call('GET', '/api/openapi.json'), 401, 'unauthorized');
    expect((await call('GET', '/api/openapi.json', undefined, as('worker'))).status).toBe(200);
    expect((await call('GET', '/healthz')).status).toBe(200);
    expect((await call('GET', '/readyz')).status).toBe(200);
    expect((await server.app.inject({ method: 'GET', url: '/' })).statusCode).toBe(200);
    expectProblem(await call('GET', '/metrics'), 401, 'unauthorized');
  });

  it('lets a producer create and read, nothing else', async () => {
    const created = await call('POST', '/api/v1/tasks', { type: 'p', id: 'p-1' }, as('producer'));
    expect(created.status).toBe(201);
    expect((await call('GET', '/api/v1/tasks/p-1', undefined, as('producer'))).status).toBe(200);
    expect((await call('GET', '/api/v1/stats', undefined, as('producer'))).status).toBe(200);
    expect((await call('POST', '/api/v1/sessions', { tasks: [{ type: 'p' }] }, as('producer'))).status).toBe(
      201,
    );
    expect((await call('GET', '/api/v1/entries/x', undefined, as('producer'))).status).toBe(200);
    const forbidden = expectProblem(
      await call('POST', '/api/v1/tasks/p-1/cancel', {}, as('producer')),
      403,
      'forbidden',
    );
    expect(forbidden.detail).toMatch(/a producer token may not POST .*admin token/);
    expectProblem(await call('DELETE', '/api/v1/tasks/p-1', undefined, as('producer')), 403, 'forbidden');
    expectProblem(
      await call('POST', '/api/v1/worker/register', { machineId: 'm', types: ['p'] }, as('producer')),
      403,
      'forbidden',
    );
    expectProblem(await call('GET', '/api/v1/tokens', undefined, as('producer')), 403, 'forbidden');
  });

  it('lets a worker token use the worker protocol only, through its own workers only', async () => {
    const mine = await call(
      'POST',
      '/api/v1/worker/register',
      { machineId: 'w1', types: ['job'] },
      as('worker'),
    );
    const theirs = await call(
      'POST',
      '/api/v1/worker/register',
      { machineId: 'w2', types: ['job'] },
      as('worker2'),
    );
    expect(mine.status).toBe(201);
    const wMine = mine.body.workerId;
    const wTheirs = theirs.body.workerId;
    await call(
      'POST',
      '/api/v1/tasks/bulk',
      {
        tasks: [
          { type: 'job', id: 'job-a' },
          { type: 'job', id: 'job-b' },
        ],
      },
      as('admin'),
    );

    const a = await call('POST', `/api/v1/worker/${wMine}/claim`, { limit: 1 }, as('worker'));
    expect(a.body.tasks.map((t: { id: string }) => t.id)).toEqual(['job-a']);
    const b = await call('POST', `/api/v1/worker/${wTheirs}/claim`, { limit: 1 }, as('worker2'));
    expect(b.body.tasks.map((t: { id: string }) => t.id)).toEqual(['job-b']);

    // Acting through another token's worker: 403 on every protocol call.
    expectProblem(await call('POST', `/api/v1/worker/${wTheirs}/claim`, {}, as('worker')), 403, 'forbidden');
    expectProblem(
      await call('POST', `/api/v1/worker/${wTheirs}/heartbeat`, {}, as('worker')),
      403,
      'forbidden',
    );
    expectProblem(
      await call('POST', `/api/v1/worker/${wTheirs}/tasks/job-b/complete`, { attempt: 1 }, as('worker')),
      403,
      'forbidden',
    );
    expectProblem(
      await call('DELETE', `/api/v1/worker/${wTheirs}`, undefined, as('worker')),
      403,
      'forbidden',
    );
    // Reaching for the other worker's lease through one's own worker: 403 too, and the task is untouched.
    expectProblem(
      await call('POST', `/api/v1/worker/${wMine}/tasks/job-b/complete`, { attempt: 1 }, as('worker')),
      403,
      'forbidden',
    );
    expectProblem(
      await call(
        'POST',
        `/api/v1/worker/${wMine}/tasks/job-b/fail`,
        { attempt: 1, error: { message: 'x' } },
        as('worker'),
      ),
      403,
      'forbidden',
    );
    expect((await store.getTask('job-b')).status).toBe('running');

    // Its own lease: fine.
    expect(
      (await call('POST', `/api/v1/worker/${wMine}/tasks/job-a/complete`, { attempt: 1 }, as('worker')))
        .status,
    ).toBe(204);
    // Nothing outside the protocol.
    expectProblem(await call('GET', '/api/v1/tasks', undefined, as('worker')), 403, 'forbidden');
    expectProblem(await call('POST', '/api/v1/tasks', { type: 'job' }, as('worker')), 403, 'forbidden');
    expectProblem(
      await call('DELETE', `/api/v1/workers/${wTheirs}`, undefined, as('worker')),
      403,
      'forbidden',
    );
    expectProblem(
      await call('POST', '/api/v1/tokens', { name: 'x', role: 'admin' }, as('worker')),
      403,
      'forbidden',
    );
    // An admin may act for any worker.
    expect(
      (await call('POST', `/api/v1/worker/${wTheirs}/tasks/job-b/complete`, { attempt: 1 }, as('admin')))
        .status,
    ).toBe(204);
  });

  it('refuses a revoked token at once on this node', async () => {
    const t = await call('POST', '/api/v1/tokens', { name: 'temp', role: 'producer' }, as('admin'));
    const auth = { authorization: `Bearer ${t.body.token}` };
    expect((await call('GET', '/api/v1/tasks', undefined, auth)).status).toBe(200);
    expect((await call('DELETE', `/api/v1/tokens/${t.body.id}`, undefined, as('admin'))).status).toBe(204);
    expectProblem(await call('GET', '/api/v1/tasks', undefined, auth), 401, 'unauthorized');
    expectProblem(await call('DELETE', '/api/v1/tokens/tok_nope', undefined, as('admin')), 404, 'not_found');
    expect(
      expectProblem(
        await call('POST', '/api/v1/tokens', { name: 'x', role: 'root' }, as('admin')),
        400,
        'validation',
      ).field,
    ).toBe('role');
  });

  it('limits the request rate per token with 429 and Retry-After', async () => {
    const limited = await testServer(store, { rateLimit: 3 });
    try {
      const api = client(limited.app);
      for (let i = 0; i < 3; i++)
        expect((await api('GET', '/api/v1/tasks', undefined, as('producer'))).status).toBe(200);
      const over = await api('GET', '/api/v1/tasks', undefined, as('producer'));
      expect(expectProblem(over, 429, 'rate_limited').detail).toMatch(/3 requests per minute/);
      expect(Number(over.headers['retry-after'])).toBeGreaterThan(0);
      // Another token has its own budget.
      expect((await api('GET', '/api/v1/tasks', undefined, as('admin'))).status).toBe(200);
    } finally {
      await limited.close();
    }
  });

  it('listens beyond loopback once a token exists; auth off there is refused', async () => {
    const open = await startServer({
      store,
      host: '0.0.0.0',
      port: 0,
      logger: silentLogger,
      maintenance: false,
    });
    try {
      const res = await fetch(`http://127.0.0.1:${open.port}/api/v1/tasks`);
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
    } finally {
      await open.close();
    }
    const err = await startServer({
      store,
      host: '0.0.0.0',
      port: 0,
      auth: false,
      logger: silentLogger,
      maintenance: false,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServeRefusedError);
  });
});
