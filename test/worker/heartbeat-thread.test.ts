import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/engine/logger.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import type { Store } from '../../src/store/store.js';
import type { Task, Worker as WorkerRecord } from '../../src/store/types.js';
import { DirectTransport } from '../../src/worker/direct-transport.js';
import { HttpTransport } from '../../src/worker/http-transport.js';
import { heartbeatThread } from '../../src/worker/shared-thread.js';
import { Worker } from '../../src/worker/worker.js';
import { dropPgliteStore, dropPostgresStore, makePgliteStore, makePostgresStore } from '../helpers/stores.js';
import { until } from './worker-behaviour.js';

const LEASE_MS = 1500;

function busy(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // CPU-bound work: no timers, no I/O on this loop
  }
}

describe('heartbeats from a worker thread (PostgreSQL, DirectTransport)', () => {
  let store: Store;
  const workers: Worker[] = [];
  beforeAll(async () => {
    store = await makePostgresStore({ leaseMs: LEASE_MS, staleAfterMs: 2 * LEASE_MS });
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await dropPostgresStore(store);
  });

  /** Runs one task that busy-loops 3× the lease, and reads its lease and its worker right after. */
  const blockOnce = async (heartbeatThread: boolean) => {
    const queue = `q_${randomUUID().slice(0, 8)}`;
    let seen: { task: Task; worker: WorkerRecord; at: number } | null = null;
    const w = new Worker({
      transport: new DirectTransport(store, { pollIntervalMs: 50 }),
      queues: [queue],
      heartbeatThread,
      logger: silentLogger,
    }).handle('cpu', async (_p, ctx) => {
      busy(3 * LEASE_MS);
      const at = Date.now();
      seen = { task: await store.getTask(ctx.task.id), worker: await store.getWorker(ctx.workerId), at };
      return { ok: true };
    });
    workers.push(w);
    await w.start();
    await store.createTasks({ tasks: [{ type: 'cpu', queue, payload: {} }] });
    await until(() => seen, 20_000);
    return seen!;
  };

  it('keeps the lease of a handler that blocks its event loop 3× the lease, and reports the lag', async () => {
    const { task, worker, at } = await blockOnce(true);
    // Renewed while this loop was blocked: still in the future when the loop ran again.
    expect(task.status).toBe('running');
    expect(task.leaseExpiresAt!.getTime()).toBeGreaterThan(at);
    expect(worker.stale).toBe(false);
    expect(worker.liveness.heartbeatThread).toBe(true);
    expect(worker.liveness.eventLoopLagMs).toBeGreaterThanOrEqual(LEASE_MS / 3);
    expect(worker.liveness.suspectedStuck).toBe(true);
    expect(worker.liveness.reason).toMatch(/event loop was blocked/);
  });

  it('without the thread the same handler lets its lease lapse (what the thread prevents)', async () => {
    const { task, at } = await blockOnce(false);
    expect(task.leaseExpiresAt!.getTime()).toBeLessThan(at);
  });
});

describe('heartbeats over HTTP from a worker thread, and the liveness in GET /workers', () => {
  let store: Store;
  let server: RunningServer;
  beforeAll(async () => {
    store = await makePgliteStore();
    server = await startServer({ store, port: 0, logger: silentLogger, maintenance: false });
  });
  afterAll(async () => {
    await server.close();
    await dropPgliteStore(store);
  });

  it('reports heartbeatThread, lag and held through the protocol; the embedded store beats on the loop', async () => {
    const http = new Worker({
      transport: new HttpTransport({ url: server.url }),
      heartbeatMs: 100,
      logger: silentLogger,
    }).handle('t', () => null);
    const direct = new Worker({
      transport: new DirectTransport(store),
      heartbeatMs: 100,
      logger: silentLogger,
    }).handle('t', () => null);
    await Promise.all([http.start(), direct.start()]);
    try {
      const listed = await until(async () => {
        const res = await fetch(`${server.url}/api/v1/workers`);
        const body = (await res.json()) as {
          items: Array<{ id: string; liveness: WorkerRecord['liveness'] }>;
        };
        const h = body.items.find((i) => i.id === http.id);
        const d = body.items.find((i) => i.id === direct.id);
        // The first beat comes from the loop while the thread boots; then the thread's.
        return h?.liveness.heartbeatThread === true && d?.liveness.heartbeatThread === false
          ? { h, d }
          : null;
      });
      expect(listed.h!.liveness).toMatchObject({ heartbeatThread: true, held: 0, suspectedStuck: false });
      expect(listed.h!.liveness.eventLoopLagMs).toBeGreaterThanOrEqual(0);
      expect(listed.d!.liveness).toMatchObject({ heartbeatThread: false, suspectedStuck: false });
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      expect(metrics).toMatch(new RegExp(`gaffer_worker_event_loop_lag_seconds\\{worker_id="${http.id}"`));
      expect(metrics).toMatch(/^gaffer_workers_suspected_stuck 0$/m);
    } finally {
      await Promise.all([http.stop(), direct.stop()]);
    }
  });
});

describe('one heartbeat thread per process', () => {
  let store: Store;
  let server: RunningServer;
  beforeAll(async () => {
    store = await makePgliteStore();
    server = await startServer({ store, port: 0, logger: silentLogger, maintenance: false });
  });
  afterAll(async () => {
    await server.close();
    await dropPgliteStore(store);
  });

  it('serves every Worker of the process, each with its own heartbeats, and ends with the last', async () => {
    const workers = Array.from({ length: 5 }, () =>
      new Worker({
        transport: new HttpTransport({ url: server.url }),
        heartbeatMs: 100,
        logger: silentLogger,
      }).handle('t', () => null),
    );
    await Promise.all(workers.map((w) => w.start()));
    try {
      expect(heartbeatThread.attached).toBe(5);
      expect(heartbeatThread.threadId).not.toBeNull();
      // Each worker's beats come from the thread, under its own id.
      await until(async () => {
        const all = await Promise.all(workers.map((w) => store.getWorker(w.id!)));
        return all.every((r) => r.liveness.heartbeatThread === true) ? all : null;
      });
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
    }
    expect(heartbeatThread.attached).toBe(0);
    expect(heartbeatThread.threadId).toBeNull();
  });
});
