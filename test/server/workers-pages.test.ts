import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GafferClient } from '../../src/client/client.js';
import { HttpBackend } from '../../src/client/http-backend.js';
import { silentLogger } from '../../src/engine/logger.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import type { SqlStore } from '../../src/store/index.js';
import { client, dropSchema, expectProblem, openTestStore } from './helpers.js';

// Issue 18: the fleet is listed a page at a time, and its size is counted by the database, so a
// fleet bigger than any page is neither cut off nor under-reported.

let store: SqlStore;
let server: RunningServer;
let call: ReturnType<typeof client>;
const live: string[] = [];
const stale: string[] = [];

beforeAll(async () => {
  store = await openTestStore();
  server = await startServer({ store, port: 0, logger: silentLogger, maintenance: false });
  call = client(server.app);
  for (let i = 0; i < 5; i++) live.push((await store.registerWorker({ machineId: 'box-a' })).id);
  for (let i = 0; i < 4; i++) stale.push((await store.registerWorker({ machineId: 'box-b' })).id);
  await store.db.query(
    `update workers set last_heartbeat_at = now() - interval '1 hour' where machine_id = 'box-b'`,
  );
  await store.markStaleWorkers();
});

afterAll(async () => {
  await server?.close();
  await store?.close();
  if (store) await dropSchema(store.options.schema);
});

describe('GET /workers, a page at a time', () => {
  it('pages newest first with nextCursor, every worker once, stale ones only when asked', async () => {
    const seen: string[] = [];
    let url = '/api/v1/workers?includeStale=true&limit=4';
    for (let pages = 1; ; pages++) {
      const a = await call('GET', url);
      expect(a.status).toBe(200);
      expect(a.body.items.length).toBeLessThanOrEqual(4);
      seen.push(...a.body.items.map((w: { id: string }) => w.id));
      if (a.body.nextCursor === null) {
        expect(pages).toBe(3);
        break;
      }
      url = `/api/v1/workers?includeStale=true&limit=4&cursor=${encodeURIComponent(a.body.nextCursor)}`;
    }
    expect(seen).toEqual([...live, ...stale].reverse());
    const onlyLive = await call('GET', '/api/v1/workers');
    expect(onlyLive.body.items.map((w: { id: string }) => w.id)).toEqual([...live].reverse());
    expect(onlyLive.body.nextCursor).toBeNull();
  });

  it('counts live and stale workers in /stats from the database, not from a page', async () => {
    const a = await call('GET', '/api/v1/stats');
    expect(a.status).toBe(200);
    expect(a.body.workers).toEqual({ live: 5, stale: 4 });
  });

  it('refuses a bad limit and a cursor it did not make, naming the field', async () => {
    expect(expectProblem(await call('GET', '/api/v1/workers?limit=0'), 400, 'validation').detail).toMatch(
      /limit/,
    );
    expect(expectProblem(await call('GET', '/api/v1/workers?limit=5000'), 400, 'validation').detail).toMatch(
      /limit/,
    );
    const bad = expectProblem(await call('GET', '/api/v1/workers?cursor=nonsense'), 400, 'validation');
    expect(bad.field ?? bad.detail).toMatch(/cursor/);
  });

  it('the SDK pages with listWorkers, gathers every page with workers, and counts with countWorkers', async () => {
    const gaffer = new GafferClient(new HttpBackend({ url: server.url }));
    const first = await gaffer.listWorkers({ includeStale: true, limit: 2 });
    expect(first.items.map((w) => w.id)).toEqual([stale[3], stale[2]]);
    const second = await gaffer.listWorkers({ includeStale: true, limit: 2, cursor: first.nextCursor! });
    expect(second.items.map((w) => w.id)).toEqual([stale[1], stale[0]]);
    expect((await gaffer.workers({ includeStale: true })).map((w) => w.id)).toEqual(
      [...live, ...stale].reverse(),
    );
    expect(await gaffer.countWorkers()).toEqual({ live: 5, stale: 4 });
  });
});
