import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { GafferClient, TaskFailedError } from '../../src/client/client.js';
import { HttpBackend } from '../../src/client/http-backend.js';
import { GafferError, NonRetryableError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/engine/logger.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import type { SqlStore } from '../../src/store/index.js';
import { HttpTransport } from '../../src/worker/http-transport.js';
import { Worker } from '../../src/worker/worker.js';
import { dropSchema, openTestStore, waitFor } from './helpers.js';

let store: SqlStore;
let server: RunningServer;
let gaffer: GafferClient;
const workers: Worker[] = [];

beforeAll(async () => {
  store = await openTestStore({ leaseMs: 3000 });
  server = await startServer({
    store,
    port: 0,
    logger: silentLogger,
    maintenance: false,
    claimPollIntervalMs: 50,
  });
  gaffer = new GafferClient(new HttpBackend({ url: server.url }));
});

afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  await server?.close();
  await store?.close();
  if (store) await dropSchema(store.options.schema);
});

function httpWorker(opts: Partial<ConstructorParameters<typeof Worker>[0]> = {}): Worker {
  const w = new Worker({
    transport: new HttpTransport({ url: server.url }),
    logger: silentLogger,
    claimWaitMs: 2000,
    shutdownGraceMs: 2000,
    ...opts,
  });
  workers.push(w);
  return w;
}

describe('the TypeScript Worker over HTTP', () => {
  it('runs handlers with the same API as the direct transport and completes tasks', async () => {
    const w = httpWorker({ concurrency: 4, queues: ['math'] }).handle('double', {
      schema: z.object({ n: z.number() }),
      handler: async (p, ctx) => {
        await ctx.progress({ half: true });
        return { double: p.n * 2, attempt: ctx.attempt };
      },
    });
    await w.start();
    const { tasks } = await gaffer.enqueueMany(
      Array.from({ length: 40 }, (_, n) => ({ type: 'double', queue: 'math', payload: { n } })),
    );
    for (const t of tasks) {
      const done = await gaffer.waitFor(t.id, { timeoutMs: 15_000 });
      expect(done.result).toEqual({ double: (t.payload as { n: number }).n * 2, attempt: 1 });
      expect(done.finishedAt).toBeInstanceOf(Date);
    }
    const counts = await gaffer.count({ type: 'double' });
    expect(counts).toMatchObject({ completed: 40, total: 40 });
    const events = await gaffer.events(tasks[0]!.id);
    expect(events.map((e) => e.kind)).toEqual(['created', 'claimed', 'progress', 'completed']);
    const summary = await w.stop();
    expect(summary).toMatchObject({ completed: 40, failed: 0 });
    expect((await store.getWorker(summary.workerId!)).stale).toBe(true);
  });

  it('retries a failing handler with backoff, then dead-letters it', async () => {
    let calls = 0;
    const w = httpWorker({ queues: ['flaky'] }).handle('flaky', async () => {
      calls++;
      throw new Error(`provider 503 (call ${calls})`);
    });
    await w.start();
    const t = await gaffer.enqueue('flaky', null, {
      queue: 'flaky',
      maxAttempts: 3,
      backoff: { baseMs: 20, jitter: 0 },
    });
    const err = await gaffer.waitFor(t.id, { timeoutMs: 15_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskFailedError);
    const failed = await gaffer.get(t.id);
    expect(failed).toMatchObject({ status: 'failed', attempt: 3 });
    expect(failed.error?.message).toBe('provider 503 (call 3)');
    expect(calls).toBe(3);
    const kinds = (await gaffer.events(t.id)).map((e) => e.kind);
    expect(kinds.filter((k) => k === 'retry_scheduled')).toHaveLength(2);
    expect(kinds.at(-1)).toBe('failed');
    const dead = await gaffer.deadLetters({ type: 'flaky' });
    expect(dead.items.map((d) => d.id)).toEqual([t.id]);
    await w.stop();
  });

  it('dead-letters a non-retryable error and a payload its schema refuses, at once', async () => {
    const w = httpWorker({ queues: ['poison'] })
      .handle('strict', { schema: z.object({ url: z.string() }), handler: async () => 'never' })
      .handle('fatal', async () => {
        throw new NonRetryableError('account closed');
      });
    await w.start();
    const a = await gaffer.enqueue('strict', { url: 42 }, { queue: 'poison' });
    const b = await gaffer.enqueue('fatal', null, { queue: 'poison' });
    for (const id of [a.id, b.id]) await gaffer.waitFor(id, { timeoutMs: 10_000 }).catch(() => {});
    expect(await gaffer.get(a.id)).toMatchObject({
      status: 'failed',
      attempt: 1,
      error: { retryable: false },
    });
    expect((await gaffer.get(a.id)).error?.message).toMatch(/payload is invalid at url/);
    expect(await gaffer.get(b.id)).toMatchObject({
      status: 'failed',
      attempt: 1,
      error: { message: 'account closed' },
    });
    await w.stop();
  });

  it('delivers a cancel to the running handler’s AbortSignal through the heartbeat', async () => {
    let started!: () => void;
    const running = new Promise<void>((r) => {
      started = r;
    });
    let aborted: unknown = null;
    const w = httpWorker({ queues: ['long'], heartbeatMs: 100 }).handle('long', async (_p, ctx) => {
      started();
      await new Promise<void>((resolve) => {
        ctx.signal.addEventListener('abort', () => {
          aborted = ctx.signal.reason;
          resolve();
        });
      });
      throw ctx.signal.reason;
    });
    await w.start();
    const t = await gaffer.enqueue('long', null, { queue: 'long' });
    await running;
    await gaffer.cancel(t.id, { reason: 'user closed the tab' });
    const end = await waitFor(async () => {
      const cur = await gaffer.get(t.id);
      return cur.status === 'cancelled' ? cur : null;
    }, 'the task to end cancelled');
    expect(end.status).toBe('cancelled');
    expect((aborted as Error).name).toBe('CancelledError');
    await w.stop();
  });

  it('claims assignment N of a session (seed 002’s `worker N <study>`)', async () => {
    const s = await gaffer.createSession({
      id: 'super-study',
      tasks: [{ type: 'assign' }, { type: 'assign' }, { type: 'assign' }],
    });
    expect(s.tasks.map((t) => t.sessionIndex)).toEqual([0, 1, 2]);
    const w = httpWorker({ queues: ['none-here'] }).handle('assign', async (_p, ctx) => ({
      index: ctx.task.sessionIndex,
    }));
    const t = await w.runSessionTask('super-study', 1);
    expect(t.sessionIndex).toBe(1);
    expect((await gaffer.get(t.id)).result).toEqual({ index: 1 });
    const err = await w.runSessionTask('super-study', 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GafferError);
    expect((err as GafferError).code).toBe('conflict');
    await w.stop();
  });

  it('stops gracefully: hands back what it did not start, deregisters', async () => {
    const w = httpWorker({ queues: ['slow'], concurrency: 1, prefetch: 3 }).handle(
      'slow',
      async (_p, ctx) => {
        await new Promise((r) => setTimeout(r, 200));
        return ctx.attempt;
      },
    );
    await w.start();
    const { tasks } = await gaffer.enqueueMany(
      Array.from({ length: 4 }, () => ({ type: 'slow', queue: 'slow' })),
    );
    await waitFor(
      async () => (await gaffer.count({ type: 'slow', status: 'running' })).running === 4,
      'all four claimed',
    );
    const summary = await w.stop();
    expect(summary.completed).toBe(1);
    const statuses = await Promise.all(tasks.map(async (t) => (await gaffer.get(t.id)).status));
    expect(statuses.filter((s) => s === 'completed')).toHaveLength(1);
    expect(statuses.filter((s) => s === 'queued')).toHaveLength(3);
    for (const t of tasks) {
      const cur = await gaffer.get(t.id);
      if (cur.status === 'queued') expect(cur.attempt - cur.attemptFloor).toBe(0);
    }
  });
});

describe('the GafferClient over HTTP', () => {
  it('maps problem documents back to GafferError with the server’s code', async () => {
    const err = await gaffer.get('no-such-task').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GafferError);
    expect((err as GafferError).code).toBe('not_found');
    const bad = await gaffer.enqueue('has space').catch((e: unknown) => e);
    expect((bad as GafferError).code).toBe('validation');
    expect((bad as GafferError).details).toMatchObject({ field: 'type', status: 400 });
    expect(await gaffer.entry('no-such-task')).toBeNull();
    expect(await gaffer.backend.getTaskType('undeclared')).toBeNull();
    const offline = new GafferClient(new HttpBackend({ url: 'http://127.0.0.1:9', timeoutMs: 2000 }));
    const down = await offline.get('x').catch((e: unknown) => e);
    expect((down as GafferError).code).toBe('unavailable');
  });

  it('covers the client surface: types, sessions, entries, workers, stats', async () => {
    await gaffer.defineType('report.build', { schema: z.object({ shop: z.string() }), tracking: 'hold' });
    const typeCfg = await gaffer.backend.getTaskType('report.build');
    expect(typeCfg?.tracking).toBe('hold');
    expect(typeCfg?.updatedAt).toBeInstanceOf(Date);
    // The server checks the JSON Schema the client derived from zod.
    const direct = await new HttpBackend({ url: server.url })
      .createTasks({ tasks: [{ type: 'report.build', payload: { shop: 7 } }] })
      .catch((e: unknown) => e);
    expect((direct as GafferError).details).toMatchObject({ field: 'payload.shop' });

    const s = await gaffer.createSession({
      key: 'shop-42',
      userId: 'u9',
      tasks: [{ type: 'report.build', payload: { shop: 'a' } }],
    });
    expect(s.created).toBe(true);
    expect((await gaffer.session(s.session.id)).key).toBe('shop-42');
    expect((await gaffer.sessionTasks(s.session.id)).map((t) => t.sessionIndex)).toEqual([0]);
    expect((await gaffer.sessions({ key: 'shop-42' })).items).toHaveLength(1);
    const entries = await gaffer.openEntries('shop-42');
    expect(entries).toMatchObject([
      { short_id: 'shop-42', task_type: 'report.build', user_id: 'u9', status: 'active' },
    ]);
    expect(await gaffer.entry(s.tasks[0]!.id)).toMatchObject({ task_id: s.tasks[0]!.id });
    expect(await gaffer.release({ key: 'shop-42', type: 'report.build' })).toBe(1);
    expect(await gaffer.openEntries('shop-42')).toEqual([]);
    expect((await gaffer.cancelSession(s.session.id)).changed).toBe(1);
    expect((await gaffer.retrySessionFailed(s.session.id)).changed).toBe(0);
    await gaffer.deleteSession(s.session.id);
    expect(((await gaffer.session(s.session.id).catch((e: unknown) => e)) as GafferError).code).toBe(
      'not_found',
    );

    const t = await gaffer.enqueue('misc', { a: 1 }, { id: 'misc-1' });
    expect(t.createdAt).toBeInstanceOf(Date);
    expect((await gaffer.list({ ids: ['misc-1'] })).items.map((x) => x.id)).toEqual(['misc-1']);
    expect((await gaffer.cancel('misc-1')).status).toBe('cancelled');
    expect((await gaffer.retry('misc-1', { reason: 'again' })).status).toBe('retrying');
    expect((await gaffer.cancelMany({ ids: ['misc-1'] })).changed).toBe(1);
    expect((await gaffer.retryMany({ ids: ['misc-1'] })).changed).toBe(1);
    await gaffer.delete('misc-1');

    const w = await store.registerWorker({ machineId: 'fleet-box', types: ['misc'] });
    expect((await gaffer.workers()).map((x) => x.id)).toContain(w.id);
    expect((await gaffer.worker(w.id)).lastHeartbeatAt).toBeInstanceOf(Date);
    expect((await gaffer.backend.getWorkerEvents(w.id)).map((e) => e.kind)).toContain('registered');
    await gaffer.deleteWorker(w.id);
    expect((await gaffer.workers({ includeStale: true })).map((x) => x.id)).not.toContain(w.id);
    expect(Array.isArray(await gaffer.backend.queueStats())).toBe(true);
  });
});
