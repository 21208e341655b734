import { randomBytes } from 'node:crypto';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GafferServer } from '../../src/server/app.js';
import type { SqlStore } from '../../src/store/index.js';
import {
  client,
  dropSchema,
  expectProblem,
  openTestStore,
  TEST_DATABASE_URL,
  testServer,
  waitFor,
} from './helpers.js';

/** A TCP proxy in front of PostgreSQL: stopping it makes the database unreachable, as a network cut would. */
class DbProxy {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(
    private readonly host: string,
    private readonly target: number,
  ) {}

  async start(): Promise<void> {
    if (this.server) return;
    const server = createServer((inbound) => {
      const outbound = createConnection({ host: this.host, port: this.target });
      for (const s of [inbound, outbound]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {});
      }
      inbound.pipe(outbound).pipe(inbound);
      inbound.on('close', () => outbound.destroy());
      outbound.on('close', () => inbound.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', resolve);
    });
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

const target = new URL(TEST_DATABASE_URL);
const proxy = new DbProxy(target.hostname, Number(target.port || 5432));
const appName = `gaffer-outage-${randomBytes(4).toString('hex')}`;
let store: SqlStore;
let server: GafferServer;
let call: ReturnType<typeof client>;

beforeAll(async () => {
  await proxy.start();
  const url = new URL(TEST_DATABASE_URL);
  url.hostname = '127.0.0.1';
  url.port = String(proxy.port);
  store = await openTestStore({ url: url.toString(), applicationName: appName, poolSize: 4 });
  server = await testServer(store, { claimPollIntervalMs: 60_000 });
  call = client(server.app);
});

afterAll(async () => {
  await proxy.start();
  await server?.close();
  await store?.close();
  await proxy.stop();
  if (store) await dropSchema(store.options.schema);
});

describe('when the database goes away', () => {
  it('answers 503 with the reason while it is unreachable, and recovers by itself when it returns', async () => {
    expect((await call('POST', '/api/v1/tasks', { type: 'before', id: 'before-1' })).status).toBe(201);

    await proxy.stop();
    const list = expectProblem(await call('GET', '/api/v1/tasks'), 503, 'unavailable');
    expect(list.detail).toMatch(/database is unreachable/);
    expectProblem(
      await call('POST', '/api/v1/tasks', { type: 'during', id: 'during-1' }),
      503,
      'unavailable',
    );
    expectProblem(
      await call('POST', '/api/v1/worker/register', { machineId: 'm', types: ['x'] }),
      503,
      'unavailable',
    );
    const ready = expectProblem(await call('GET', '/readyz'), 503, 'unavailable');
    expect(ready.detail).toMatch(/database/);
    // The process itself is fine.
    expect((await call('GET', '/healthz')).status).toBe(200);

    await proxy.start();
    await waitFor(
      async () => (await call('GET', '/readyz')).status === 200,
      'readiness after the database returns',
    );
    expect((await call('GET', '/api/v1/tasks/before-1')).status).toBe(200);
    expect((await call('POST', '/api/v1/tasks', { type: 'after', id: 'after-1' })).status).toBe(201);
    // Nothing half-written: the create refused during the outage left no task behind.
    expectProblem(await call('GET', '/api/v1/tasks/during-1'), 404, 'not_found');

    // Wake-ups come back too (the LISTEN connection reconnects): a long-poll answers on a create,
    // not on this server's one-minute fallback poll.
    const workerId = (await call('POST', '/api/v1/worker/register', { machineId: 'm', types: ['wake'] })).body
      .workerId;
    await waitFor(
      async () => {
        const pending = call('POST', `/api/v1/worker/${workerId}/claim`, { waitMs: 3000 });
        await new Promise((r) => setTimeout(r, 100));
        const t0 = Date.now();
        await call('POST', '/api/v1/tasks', { type: 'wake' });
        const got = await pending;
        return got.body.tasks?.length === 1 && Date.now() - t0 < 2000;
      },
      'a long-poll woken by a create after the outage',
      30_000,
    );
  });

  it('recovers from pg_terminate_backend on its connections', async () => {
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    try {
      const killed = await admin.query(
        'select pg_terminate_backend(pid) from pg_stat_activity where application_name like $1 and pid <> pg_backend_pid()',
        [`${appName}%`],
      );
      expect(killed.rowCount).toBeGreaterThan(0);
    } finally {
      await admin.end();
    }
    // A request may meet a connection that died under it (503 unavailable, never a 500); then it works again.
    const first = await call('GET', '/api/v1/tasks');
    expect([200, 503]).toContain(first.status);
    if (first.status === 503) expect(first.body.code).toBe('unavailable');
    await waitFor(
      async () => (await call('GET', '/api/v1/tasks')).status === 200,
      'the API after the terminate',
    );
    expect((await call('POST', '/api/v1/tasks', { type: 'after-kill' })).status).toBe(201);
    expect((await call('GET', '/readyz')).status).toBe(200);
  });
});
