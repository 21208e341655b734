import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/engine/logger.js';
import type { Store } from '../../src/store/store.js';
import { DirectTransport } from '../../src/worker/direct-transport.js';
import type { TaskContext } from '../../src/worker/types.js';
import { Worker } from '../../src/worker/worker.js';
import {
  dropPgliteStore,
  dropPostgresStore,
  makePgliteStore,
  makePostgresStore,
  TEST_DATABASE_URL,
} from '../helpers/stores.js';
import { until } from './worker-behaviour.js';

type Mode = 'commit' | 'throw-after' | 'rollback-return' | 'wait-lapse';

describe('ctx.completeInTransaction: the handler’s writes and the completion commit together (PostgreSQL)', () => {
  let store: Store;
  let pool: pg.Pool;
  const table = `effects_${randomUUID().slice(0, 8).replace(/-/g, '')}`;
  const workers: Worker[] = [];
  const errors: string[] = [];
  /** Tasks of 'wait-lapse' block here until the test has taken their lease away. */
  const gates = new Map<string, () => void>();

  const handler = async (p: { mode: Mode; failFirst?: boolean }, ctx: TaskContext) => {
    const c = await pool.connect();
    try {
      await c.query('begin');
      await c.query(`insert into public.${table} (task_id, attempt) values ($1, $2)`, [
        ctx.task.id,
        ctx.attempt,
      ]);
      if (p.mode === 'wait-lapse' && ctx.attempt === 1)
        await new Promise<void>((r) => gates.set(ctx.task.id, r));
      try {
        await ctx.completeInTransaction(c, { attempt: ctx.attempt });
      } catch (err) {
        errors.push(`${(err as Error).name}: ${(err as Error).message}`);
        await c.query('rollback');
        throw err;
      }
      // The row is locked by this transaction and unqualified names still resolve on the caller's path.
      await c.query(`select 1 from ${table} limit 1`);
      if (p.mode === 'throw-after' && ctx.attempt === 1) {
        await c.query('rollback');
        throw new Error('the handler failed after completing in its transaction');
      }
      if (p.mode === 'rollback-return' && ctx.attempt === 1) {
        await c.query('rollback');
        return { ignored: true };
      }
      await c.query('commit');
      return { ignored: true };
    } finally {
      c.release();
    }
  };

  const startWorker = async (queue: string) => {
    const w = new Worker({
      transport: new DirectTransport(store, { pollIntervalMs: 50 }),
      queues: [queue],
      concurrency: 4,
      heartbeatMs: 100,
      logger: silentLogger,
    }).handle('effect', handler);
    workers.push(w);
    await w.start();
    return w;
  };
  const effects = async (taskId: string) =>
    (
      await pool.query(`select attempt from public.${table} where task_id = $1 order by attempt`, [taskId])
    ).rows.map((r) => r.attempt as number);

  beforeAll(async () => {
    store = await makePostgresStore({ leaseMs: 3000 });
    pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 6 });
    await pool.query(
      `create table public.${table} (task_id text, attempt int, primary key (task_id, attempt))`,
    );
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await pool.query(`drop table if exists public.${table}`);
    await pool.end();
    await dropPostgresStore(store);
  });

  it('commits the effect and the completion together; the worker reports nothing more', async () => {
    const queue = `q_${randomUUID().slice(0, 8)}`;
    const w = await startWorker(queue);
    const { tasks } = await store.createTasks({
      tasks: [{ type: 'effect', queue, payload: { mode: 'commit' } }],
    });
    const id = tasks[0]!.id;
    await until(async () => w.summary().completed === 1);
    const t = await store.getTask(id);
    expect(t.status).toBe('completed');
    expect(t.attempt).toBe(1);
    // The result given to completeInTransaction, not the handler's return value.
    expect(t.result).toEqual({ attempt: 1 });
    expect(await effects(id)).toEqual([1]);
    const kinds = (await store.getTaskEvents(id)).map((e) => e.kind);
    expect(kinds.filter((k) => k === 'completed')).toHaveLength(1);
    expect(kinds).not.toContain('lease_lost');
    expect(w.summary()).toMatchObject({ completed: 1, failed: 0 });
  });

  it('a handler that rolls back, by throwing or by returning, leaves neither effect nor completion and fails the attempt', async () => {
    const queue = `q_${randomUUID().slice(0, 8)}`;
    const w = await startWorker(queue);
    const { tasks } = await store.createTasks({
      tasks: [
        { type: 'effect', queue, payload: { mode: 'throw-after' }, backoff: { baseMs: 10, jitter: 1 } },
        { type: 'effect', queue, payload: { mode: 'rollback-return' }, backoff: { baseMs: 10, jitter: 1 } },
      ],
    });
    await until(async () => w.summary().completed === 2, 15_000);
    for (const t of tasks) {
      const done = await store.getTask(t.id);
      expect(done.status).toBe('completed');
      expect(done.attempt).toBe(2);
      expect(done.result).toEqual({ attempt: 2 });
      expect(await effects(t.id)).toEqual([2]);
    }
    const events = await store.getTaskEvents(tasks[1]!.id);
    const failed = events.find((e) => e.kind === 'attempt_failed' || e.kind === 'retry_scheduled');
    expect(JSON.stringify(failed)).toContain('did not commit');
    expect(w.summary()).toMatchObject({ completed: 2, failed: 2 });
  });

  it('an attempt that lost its lease gets LeaseLostError, its transaction rolls back, and the next attempt completes once', async () => {
    const queue = `q_${randomUUID().slice(0, 8)}`;
    const w = await startWorker(queue);
    const { tasks } = await store.createTasks({
      tasks: [{ type: 'effect', queue, payload: { mode: 'wait-lapse' }, backoff: { baseMs: 10, jitter: 1 } }],
    });
    const id = tasks[0]!.id;
    await until(() => gates.get(id));
    // The lease lapses as if the worker had been silent past it.
    await until(async () => {
      // Just past the 3 s lease: the backoff counts from then, so attempt 2 runs a second later.
      await store.rescueLeases({ now: new Date(Date.now() + 3_500) });
      const t = await store.getTask(id);
      return t.attempt > 1 || t.status !== 'running';
    });
    errors.length = 0;
    gates.get(id)!();
    await until(async () => (await store.getTask(id)).status === 'completed', 15_000);
    expect(errors.some((e) => e.startsWith('LeaseLostError') && e.includes('attempt 1'))).toBe(true);
    const t = await store.getTask(id);
    expect(t.attempt).toBe(2);
    expect(await effects(id)).toEqual([2]);
    expect(w.summary().completed).toBe(1);
  });
});

describe('ctx.completeInTransaction on the embedded store', () => {
  it('refuses with a message that says it needs PostgreSQL', async () => {
    const store = await makePgliteStore();
    const seen: string[] = [];
    const w = new Worker({
      transport: new DirectTransport(store, { pollIntervalMs: 20 }),
      logger: silentLogger,
    });
    w.handle('effect', async (_p, ctx) => {
      const fake = { query: async () => ({ rows: [], rowCount: 0 }) } as unknown as pg.ClientBase;
      try {
        await ctx.completeInTransaction(fake, 1);
      } catch (err) {
        seen.push((err as Error).message);
        throw err;
      }
    });
    await w.start();
    const { tasks } = await store.createTasks({ tasks: [{ type: 'effect', payload: {}, maxAttempts: 1 }] });
    await until(async () => (await store.getTask(tasks[0]!.id)).status === 'failed');
    expect(seen[0]).toMatch(/needs the PostgreSQL store/);
    await w.stop();
    await dropPgliteStore(store);
  });
});
