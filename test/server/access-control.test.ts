import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpBackend } from '../../src/client/http-backend.js';
import { silentLogger } from '../../src/engine/logger.js';
import { startServer } from '../../src/server/serve.js';
import { openPgliteStore, type SqlStore } from '../../src/store/index.js';
import { client, expectProblem, testServer } from './helpers.js';

/**
 * Issue 17, access control (items 7–10, 14): each case here failed on the main of the day the
 * issue was filed. Items 11–13 (auth off, headers, docs) are in access-headers.test.ts, item 15
 * (the data directory lock) in test/cli/data-dir-lock.test.ts.
 */

const bearer = (t: { token: string }) => ({ authorization: `Bearer ${t.token}` });

// One embedded store for the file (opening one costs seconds); each case starts from its own tokens.
let store: SqlStore;
beforeAll(async () => {
  store = await openPgliteStore();
});
afterAll(async () => {
  await store?.close();
});

async function revokeAll(): Promise<void> {
  for (const t of await store.listTokens()) if (!t.revokedAt) await store.revokeToken(t.id, { force: true });
}

describe('the auth latch (item 7)', () => {
  it('is armed at start when tokens exist: revoking them all before any request keeps auth on', async () => {
    {
      const admin = await store.createToken({ name: 'ops', role: 'admin' });
      const server = await testServer(store);
      try {
        // Before the first request reaches the server, the last token goes.
        await store.revokeToken(admin.id, { force: true });
        const call = client(server.app);
        expectProblem(await call('GET', '/api/v1/tasks'), 401, 'unauthorized');
        expectProblem(
          await call('POST', '/api/v1/tokens', { name: 'x', role: 'admin' }),
          401,
          'unauthorized',
        );
      } finally {
        await server.close();
      }
    }
  });

  it('beyond loopback with every token revoked: 503 saying why, never an open API', async () => {
    {
      const admin = await store.createToken({ name: 'ops', role: 'admin' });
      const server = await startServer({
        store,
        host: '0.0.0.0',
        port: 0,
        logger: silentLogger,
        maintenance: false,
      });
      try {
        await store.revokeToken(admin.id, { force: true });
        const res = await fetch(`http://127.0.0.1:${server.port}/api/v1/tasks`);
        expect(res.status).toBe(503);
        expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
        const body = (await res.json()) as { code: string; detail: string };
        expect(body.code).toBe('unavailable');
        expect(body.detail).toMatch(/beyond loopback.*no active API token/);
        // Health stays open, for the load balancer to see the node is up.
        expect((await fetch(`http://127.0.0.1:${server.port}/healthz`)).status).toBe(200);
      } finally {
        await server.close();
      }
    }
  });
});

describe('with tokens', () => {
  let server: Awaited<ReturnType<typeof testServer>>;
  let call: ReturnType<typeof client>;
  let admin: { id: string; token: string };

  beforeAll(async () => {
    await revokeAll();
    admin = await store.createToken({ name: 'ops', role: 'admin' });
    server = await testServer(store, { authFailureLimit: 10 });
    call = client(server.app);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('refuses to revoke the last active admin token without force (item 8): API 409, SDK option', async () => {
    const again = await call('DELETE', `/api/v1/tokens/${admin.id}`, undefined, bearer(admin));
    expect(expectProblem(again, 409, 'conflict').detail).toMatch(/last active admin token.*force=true/);
    expect((await call('GET', '/api/v1/tasks', undefined, bearer(admin))).status).toBe(200);
    // A second admin makes it revocable; force revokes even the last one (here through the SDK).
    const spare = (await call('POST', '/api/v1/tokens', { name: 'spare', role: 'admin' }, bearer(admin)))
      .body;
    expect((await call('DELETE', `/api/v1/tokens/${spare.id}`, undefined, bearer(admin))).status).toBe(204);
    const sdkAdmin = await store.createToken({ name: 'sdk', role: 'admin' });
    const listening = await startServer({ store, port: 0, logger: silentLogger, maintenance: false });
    try {
      const sdk = new HttpBackend({ url: listening.url, token: sdkAdmin.token });
      await sdk.revokeToken(admin.id);
      const refused = await sdk.revokeToken(sdkAdmin.id).catch((e: unknown) => e);
      expect(refused).toMatchObject({ code: 'conflict' });
      await sdk.revokeToken(sdkAdmin.id, { force: true });
    } finally {
      await listening.close();
    }
    admin = await store.createToken({ name: 'ops2', role: 'admin' });
  });

  it('lets only the registering token (or an admin) replace a worker on the same machine + slot (item 9)', async () => {
    const a = await store.createToken({ name: 'wa', role: 'worker' });
    const b = await store.createToken({ name: 'wb', role: 'worker' });
    const reg = (t: { token: string }) =>
      call('POST', '/api/v1/worker/register', { machineId: 'm-9', name: 'slot', types: ['j9'] }, bearer(t));
    const first = await reg(a);
    expect(first.status).toBe(201);
    await call('POST', '/api/v1/tasks', { type: 'j9', id: 'j9-1' }, bearer(admin));
    const claimed = await call('POST', `/api/v1/worker/${first.body.workerId}/claim`, {}, bearer(a));
    expect(claimed.body.tasks.map((t: { id: string }) => t.id)).toEqual(['j9-1']);

    const hijack = expectProblem(await reg(b), 403, 'forbidden');
    expect(hijack.detail).toMatch(/registered with another token/);
    expect(await store.getTask('j9-1')).toMatchObject({ status: 'running', attempt: 1 });
    expect((await store.getWorker(first.body.workerId)).stale).toBe(false);
    // The same token restarting its worker, and an admin, may.
    const restart = await reg(a);
    expect(restart.status).toBe(201);
    expect((await store.getWorker(first.body.workerId)).stale).toBe(true);
    expect((await reg(admin)).status).toBe(201);
  });

  it('keeps a scoped worker token inside its queues and types (item 10)', async () => {
    const created = await call(
      'POST',
      '/api/v1/tokens',
      { name: 'scoped', role: 'worker', queues: ['in-q'], types: ['in-t'] },
      bearer(admin),
    );
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ queues: ['in-q'], types: ['in-t'] });
    const scoped = created.body as { token: string };
    expectProblem(
      await call('POST', '/api/v1/tokens', { name: 'p', role: 'producer', types: ['x'] }, bearer(admin)),
      400,
      'validation',
    );
    await call(
      'POST',
      '/api/v1/tasks/bulk',
      {
        tasks: [
          { type: 'in-t', queue: 'in-q', id: 's-in', payload: { ok: 1 } },
          { type: 'in-t', queue: 'out-q', id: 's-outq', payload: { secret: 1 } },
          { type: 'out-t', queue: 'in-q', id: 's-outt', payload: { secret: 2 } },
        ],
      },
      bearer(admin),
    );
    // Registering for types or queues outside: 403; registering for "any" means the scope.
    expectProblem(
      await call('POST', '/api/v1/worker/register', { machineId: 'm-10', types: ['out-t'] }, bearer(scoped)),
      403,
      'forbidden',
    );
    const w = await call('POST', '/api/v1/worker/register', { machineId: 'm-10' }, bearer(scoped));
    expect(w.status).toBe(201);
    const wid = w.body.workerId as string;
    expect(await store.getWorker(wid)).toMatchObject({ types: ['in-t'], queues: ['in-q'] });
    // Asking for more at claim time: 403; the default claim takes only what is inside.
    expectProblem(
      await call('POST', `/api/v1/worker/${wid}/claim`, { queues: ['out-q'] }, bearer(scoped)),
      403,
      'forbidden',
    );
    expectProblem(
      await call('POST', `/api/v1/worker/${wid}/claim`, { types: ['out-t'] }, bearer(scoped)),
      403,
      'forbidden',
    );
    const got = await call('POST', `/api/v1/worker/${wid}/claim`, { limit: 10 }, bearer(scoped));
    expect(got.body.tasks.map((t: { id: string }) => t.id)).toEqual(['s-in']);
    // The others' payloads never reach it; they are still queued for someone else.
    expect(JSON.stringify(got.body)).not.toContain('secret');
    expect((await store.getTask('s-outq')).status).toBe('queued');
    // Reading tasks is not for worker tokens at all; completing one outside is refused too.
    expectProblem(await call('GET', '/api/v1/tasks/s-outq', undefined, bearer(scoped)), 403, 'forbidden');
    const outsider = await call(
      'POST',
      '/api/v1/worker/register',
      { machineId: 'm-10b', types: ['out-t'] },
      bearer(admin),
    );
    await call('POST', `/api/v1/worker/${outsider.body.workerId}/claim`, { limit: 1 }, bearer(admin));
    expectProblem(
      await call('POST', `/api/v1/worker/${wid}/tasks/s-outt/complete`, { attempt: 1 }, bearer(scoped)),
      403,
      'forbidden',
    );
    expect((await store.getTask('s-outt')).status).toBe('running');

    // claim-session: a named index outside is 403, "the next free one" is the next one inside.
    const session = await call(
      'POST',
      '/api/v1/sessions',
      {
        tasks: [
          { type: 'out-t', queue: 'in-q', payload: { secret: 3 } },
          { type: 'in-t', queue: 'in-q', payload: { ok: 2 } },
        ],
      },
      bearer(admin),
    );
    const sid = session.body.session?.id ?? session.body.id;
    expectProblem(
      await call('POST', `/api/v1/worker/${wid}/claim-session`, { sessionId: sid, index: 0 }, bearer(scoped)),
      403,
      'forbidden',
    );
    const next = await call(
      'POST',
      `/api/v1/worker/${wid}/claim-session`,
      { sessionId: sid },
      bearer(scoped),
    );
    expect(next.status).toBe(200);
    expect(next.body.task).toMatchObject({ sessionIndex: 1, type: 'in-t' });
    expectProblem(
      await call('POST', `/api/v1/worker/${wid}/claim-session`, { sessionId: sid }, bearer(scoped)),
      403,
      'forbidden',
    );
  });

  it('limits requests with unknown tokens per address before any lookup (item 14)', async () => {
    // A valid token used just before the flood stays usable (it is known without a lookup).
    expect((await call('GET', '/api/v1/tasks', undefined, bearer(admin))).status).toBe(200);
    const real = store.verifyToken.bind(store);
    let lookups = 0;
    store.verifyToken = (secret: string) => {
      lookups++;
      return real(secret);
    };
    try {
      const answers: number[] = [];
      for (let i = 0; i < 40; i++) {
        const guess = `gaffer_${randomBytes(32).toString('base64url')}`;
        answers.push(
          (await call('GET', '/api/v1/tasks', undefined, { authorization: `Bearer ${guess}` })).status,
        );
      }
      expect(answers.slice(0, 10)).toEqual(Array(10).fill(401));
      expect(answers.slice(10)).toEqual(Array(30).fill(429));
      // Beyond the limit, no query per guess.
      expect(lookups).toBe(10);
      const over = await call('GET', '/api/v1/tasks', undefined, { authorization: 'Bearer gaffer_nope' });
      expect(expectProblem(over, 429, 'rate_limited').detail).toMatch(
        /unknown or revoked tokens from this address/,
      );
      expect(Number(over.headers['retry-after'])).toBeGreaterThan(0);
      expect((await call('GET', '/api/v1/tasks', undefined, bearer(admin))).status).toBe(200);
      // Another address has its own budget.
      const elsewhere = await server.app.inject({
        method: 'GET',
        url: '/api/v1/tasks',
        remoteAddress: '10.1.2.3',
        headers: { authorization: 'Bearer gaffer_other' },
      });
      expect(elsewhere.statusCode).toBe(401);
    } finally {
      store.verifyToken = real;
    }
  });
});
