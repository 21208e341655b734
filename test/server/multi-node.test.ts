import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GafferClient } from '../../src/client/client.js';
import { HttpBackend } from '../../src/client/http-backend.js';
import { silentLogger } from '../../src/engine/logger.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import type { SqlStore } from '../../src/store/index.js';
import { HttpTransport } from '../../src/worker/http-transport.js';
import { Worker } from '../../src/worker/worker.js';
import { client, dropSchema, openTestStore, waitFor } from './helpers.js';

// Two server nodes, each with its own pool and LISTEN connection, on one PostgreSQL schema.
let storeA: SqlStore;
let storeB: SqlStore;
let nodeA: RunningServer;
let nodeB: RunningServer;

beforeAll(async () => {
  storeA = await openTestStore();
  storeB = await openTestStore({ schema: storeA.options.schema });
  const opts = { port: 0, logger: silentLogger, claimPollIntervalMs: 60_000 };
  // Maintenance runs on both: the advisory lock lets one act per round.
  nodeA = await startServer({ ...opts, store: storeA, maintenance: { sweepIntervalMs: 200 } });
  nodeB = await startServer({ ...opts, store: storeB, maintenance: { sweepIntervalMs: 200 } });
});

afterAll(async () => {
  await nodeA?.close();
  await nodeB?.close();
  await storeA?.close();
  await storeB?.close();
  if (storeA) await dropSchema(storeA.options.schema);
});

describe('two server nodes on one PostgreSQL', () => {
  it('wakes a claim long-polling on one node when a task is created on the other', async () => {
    const b = client(nodeB.app);
    const a = client(nodeA.app);
    const workerId = (await b('POST', '/api/v1/worker/register', { machineId: 'x', types: ['cross'] })).body
      .workerId;
    const pending = b('POST', `/api/v1/worker/${workerId}/claim`, { waitMs: 15_000 });
    await new Promise((r) => setTimeout(r, 200));
    const createdAt = Date.now();
    const created = await a('POST', '/api/v1/tasks', { type: 'cross' });
    const claimed = await pending;
    expect(claimed.body.tasks.map((t: { id: string }) => t.id)).toEqual([created.body.task.id]);
    // Answered by NOTIFY, not by the (one minute) fallback poll.
    expect(Date.now() - createdAt).toBeLessThan(2000);
  });

  it('drains one queue from workers on both nodes without running any task twice', async () => {
    const runs = new Map<string, number>();
    const byNode = { a: 0, b: 0 };
    const make = (node: 'a' | 'b', url: string) =>
      new Worker({
        transport: new HttpTransport({ url }),
        concurrency: 5,
        logger: silentLogger,
        claimWaitMs: 1000,
        machineId: `machine-${node}`,
      }).handle('shared', async (_p, ctx) => {
        runs.set(ctx.task.id, (runs.get(ctx.task.id) ?? 0) + 1);
        byNode[node]++;
        await new Promise((r) => setTimeout(r, 2));
        return node;
      });
    const wa = make('a', nodeA.url);
    const wb = make('b', nodeB.url);
    await Promise.all([wa.start(), wb.start()]);
    const gaffer = new GafferClient(new HttpBackend({ url: nodeA.url }));
    const N = 300;
    await gaffer.enqueueMany(Array.from({ length: N }, (_, i) => ({ type: 'shared', payload: i })));
    await waitFor(
      async () => (await gaffer.count({ type: 'shared' })).completed === N,
      'all tasks completed',
      60_000,
    );
    await Promise.all([wa.stop(), wb.stop()]);

    expect(runs.size).toBe(N);
    expect([...runs.values()].every((n) => n === 1)).toBe(true);
    expect(byNode.a).toBeGreaterThan(0);
    expect(byNode.b).toBeGreaterThan(0);
    // The history agrees: one claim for every task.
    const ids = await storeA.db.query<{ id: string }>(`select id from tasks where type = 'shared'`);
    const claims = await Promise.all(
      ids.rows.map(
        async (r) => (await storeB.getTaskEvents(r.id)).filter((e) => e.kind === 'claimed').length,
      ),
    );
    expect(claims).toEqual(ids.rows.map(() => 1));
    const attempts = await storeB.db.query<{ max: number }>(
      `select max(attempt)::int as max from tasks where type = 'shared'`,
    );
    expect(attempts.rows[0]!.max).toBe(1);
  });

  it('rescues a lapsed lease from whichever node runs maintenance', async () => {
    const a = client(nodeA.app);
    const workerId = (await a('POST', '/api/v1/worker/register', { machineId: 'gone', types: ['orphan'] }))
      .body.workerId;
    const created = await a('POST', '/api/v1/tasks', { type: 'orphan' });
    await a('POST', `/api/v1/worker/${workerId}/claim`, {});
    // The worker is marked stale (as the sweep marks a silent one): the sweep on either node returns its task.
    await storeB.db.query('update workers set stale_at = now(), stale_reason = $2 where id = $1', [
      workerId,
      'test',
    ]);
    const back = await waitFor(async () => {
      const t = await storeA.getTask(created.body.task.id);
      return t.status === 'retrying' ? t : null;
    }, 'the task to return to the queue');
    expect(back.error?.kind).toBe('lost');
  });
});
