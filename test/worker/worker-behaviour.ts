import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { GafferClient } from '../../src/client/client.js';
import { silentLogger } from '../../src/engine/logger.js';
import type { Store } from '../../src/store/store.js';
import { DirectTransport } from '../../src/worker/direct-transport.js';
import { Worker, type WorkerOptions } from '../../src/worker/worker.js';

/** Polls until fn returns a truthy value; tests wait on state, never on wall-clock sleeps alone. */
export async function until<T>(fn: () => Promise<T> | T, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function workerBehaviour(name: string, make: () => Promise<Store>, drop: (s: Store) => Promise<void>) {
  describe(`Worker over the direct transport (${name})`, () => {
    let store: Store;
    let client: GafferClient;
    const workers: Worker[] = [];
    const q = () => `q_${randomUUID().slice(0, 8)}`;
    const newWorker = (opts: Partial<WorkerOptions> & { queues: string[] }) => {
      const w = new Worker({ transport: new DirectTransport(store), logger: silentLogger, ...opts });
      workers.push(w);
      return w;
    };

    beforeAll(async () => {
      store = await make();
      client = new GafferClient(store);
    });
    afterAll(async () => {
      await Promise.all(workers.map((w) => w.stop()));
      await drop(store);
    });

    it('runs each task exactly once across two workers and reports results', async () => {
      const queue = q();
      const seen = new Map<string, number>();
      const handler = async (p: { n: number }, ctx: { task: { id: string } }) => {
        seen.set(ctx.task.id, (seen.get(ctx.task.id) ?? 0) + 1);
        return { double: p.n * 2 };
      };
      const a = newWorker({ queues: [queue], concurrency: 5 }).handle('double', handler);
      const b = newWorker({ queues: [queue], concurrency: 5 }).handle('double', handler);
      await Promise.all([a.start(), b.start()]);
      const { tasks } = await client.enqueueMany(
        Array.from({ length: 300 }, (_, n) => ({ type: 'double', queue, payload: { n } })),
      );
      await until(async () => (await client.count({ queue })).completed === 300, 30_000);
      expect(seen.size).toBe(300);
      expect([...seen.values()].every((n) => n === 1)).toBe(true);
      const t = await client.get(tasks[7]!.id);
      expect(t.result).toEqual({ double: 14 });
      expect(a.summary().completed + b.summary().completed).toBe(300);
    });

    it('starts a new task on an idle worker by wake-up, not by polling', async () => {
      const queue = q();
      let startedAt = 0;
      const w = new Worker({
        transport: new DirectTransport(store, { pollIntervalMs: 60_000 }),
        logger: silentLogger,
        queues: [queue],
      }).handle('ping', () => {
        startedAt = Date.now();
      });
      workers.push(w);
      await w.start();
      await new Promise((r) => setTimeout(r, 100));
      const t = await client.enqueue('ping', null, { queue });
      // The poll interval is a minute: only a wake-up can run it within the wait below.
      await client.waitFor(t.id, { timeoutMs: 10_000 });
      expect(startedAt).toBeGreaterThan(0);
    });

    it('fails a payload that does not match the handler schema as non-retryable, naming the field', async () => {
      const queue = q();
      const w = newWorker({ queues: [queue] }).handle('typed', {
        schema: z.object({ email: z.string().email() }),
        handler: () => 'sent',
      });
      await w.start();
      const t = await client.enqueue('typed', { email: 42 }, { queue });
      await until(async () => (await client.get(t.id)).status === 'failed');
      const failed = await client.get(t.id);
      expect(failed.attempt).toBe(1);
      expect(failed.error?.retryable).toBe(false);
      expect(failed.error?.message).toContain('email');
    });

    it('refuses at creation a payload that fails the schema declared with defineType', async () => {
      await client.defineType('signup', { schema: z.object({ email: z.string() }) });
      await expect(client.enqueue('signup', { email: 1 })).rejects.toMatchObject({
        code: 'validation',
        message: expect.stringContaining('payload.email'),
      });
      await expect(client.enqueue('signup', { email: 'a@b.c' })).resolves.toMatchObject({ status: 'queued' });
    });

    it('retries a failing handler with backoff, then completes', async () => {
      const queue = q();
      let calls = 0;
      const w = newWorker({ queues: [queue] }).handle('flaky', (_p, ctx) => {
        calls++;
        if (ctx.attempt < 3) throw new Error(`try ${ctx.attempt} failed`);
        return 'ok';
      });
      await w.start();
      const t = await client.enqueue('flaky', null, { queue, backoff: { baseMs: 10, jitter: 0 } });
      const done = await client.waitFor(t.id, { timeoutMs: 15_000 });
      expect(done.attempt).toBe(3);
      expect(calls).toBe(3);
      const kinds = (await client.events(t.id)).map((e) => e.kind);
      expect(kinds.filter((k) => k === 'retry_scheduled')).toHaveLength(2);
    });

    it('dead-letters a task whose attempts are spent', async () => {
      const queue = q();
      const w = newWorker({ queues: [queue] }).handle('doomed', () => {
        throw new Error('provider down');
      });
      await w.start();
      const t = await client.enqueue('doomed', null, {
        queue,
        maxAttempts: 2,
        backoff: { baseMs: 5, jitter: 0 },
      });
      await until(async () => (await client.get(t.id)).status === 'failed');
      const dead = (await client.deadLetters({ queue })).items;
      expect(dead.map((d) => d.id)).toEqual([t.id]);
      expect(dead[0]!.attempt).toBe(2);
      expect(dead[0]!.error?.message).toBe('provider down');
    });

    it('cancels a running task through the heartbeat and the handler sees its AbortSignal', async () => {
      const queue = q();
      let aborted = false;
      const w = newWorker({ queues: [queue], heartbeatMs: 50 }).handle('long', async (_p, ctx) => {
        await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
        aborted = true;
        throw ctx.signal.reason;
      });
      await w.start();
      const t = await client.enqueue('long', null, { queue });
      await until(async () => (await client.get(t.id)).status === 'running');
      await client.cancel(t.id, { reason: 'user asked' });
      await until(async () => (await client.get(t.id)).status === 'cancelled');
      expect(aborted).toBe(true);
    });

    it('aborts a handler whose lease was lost and refuses its late result', async () => {
      const queue = q();
      let release: () => void = () => {};
      const gate = new Promise<void>((r) => (release = r));
      let sawAbort = false;
      const w = newWorker({ queues: [queue], heartbeatMs: 50 }).handle('slow', async (_p, ctx) => {
        ctx.signal.addEventListener('abort', () => {
          sawAbort = true;
        });
        await gate;
        return 'late';
      });
      await w.start();
      const t = await client.enqueue('slow', null, { queue });
      await until(async () => (await client.get(t.id)).status === 'running');
      // The lease lapses (time moved past it): the task goes back to the queue. A sweep skips rows
      // a heartbeat holds locked at that instant, so sweep until it has taken this one.
      await until(
        async () => (await store.rescueLeases({ now: new Date(Date.now() + 10 * 60_000) })).lost > 0,
      );
      expect((await client.get(t.id)).status).toBe('retrying');
      await until(() => sawAbort);
      release();
      await until(() => w.summary().running === 0);
      const after = await client.get(t.id);
      expect(after.status).not.toBe('completed');
      expect(after.result).toBeNull();
    });

    it('shuts down gracefully: finishes running work, hands back prefetched tasks at once', async () => {
      const queue = q();
      let release: () => void = () => {};
      const gate = new Promise<void>((r) => (release = r));
      const w = newWorker({ queues: [queue], concurrency: 1, prefetch: 3, shutdownGraceMs: 10_000 }).handle(
        'job',
        async () => {
          await gate;
          return 'done';
        },
      );
      const { tasks } = await client.enqueueMany(Array.from({ length: 4 }, () => ({ type: 'job', queue })));
      await w.start();
      await until(async () => (await client.count({ queue })).running === 4);
      const stopping = w.stop();
      // Unstarted tasks go back before the running one finishes.
      await until(async () => (await client.count({ queue })).queued === 3);
      release();
      const summary = await stopping;
      expect(summary.completed).toBe(1);
      expect(summary.processed).toBe(1);
      expect(summary.successRate).toBe(1);
      const counts = await client.count({ queue });
      expect(counts.completed).toBe(1);
      expect(counts.queued).toBe(3);
      // Handing back spends no attempt budget.
      const back = await Promise.all(tasks.map((t) => client.get(t.id)));
      for (const b of back.filter((x) => x.status === 'queued')) expect(b.attempt - b.attemptFloor).toBe(0);
      const registered = await store.getWorker(w.id!);
      expect(registered.stale).toBe(true);
    });

    it('claims the assignment at index N of a session', async () => {
      const queue = q();
      const { session } = await client.createSession({
        key: `study-${queue}`,
        queue,
        tasks: Array.from({ length: 4 }, (_, i) => ({ type: 'assignment', payload: { split: i } })),
      });
      const ran: unknown[] = [];
      const w = newWorker({ queues: [queue] }).handle('assignment', (p) => {
        ran.push(p);
        return p;
      });
      const task = await w.runSessionTask(session.id, 2);
      expect(task.sessionIndex).toBe(2);
      expect(ran).toEqual([{ split: 2 }]);
      expect((await client.get(task.id)).status).toBe('completed');
      await expect(w.runSessionTask(session.id, 2)).rejects.toMatchObject({ code: 'conflict' });
    });
  });
}
