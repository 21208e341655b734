import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GafferClient } from '../../src/client/client.js';
import { NonRetryableError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/engine/logger.js';
import { GafferMetrics } from '../../src/engine/metrics.js';
import type { Store } from '../../src/store/store.js';
import { DirectTransport } from '../../src/worker/direct-transport.js';
import { Worker } from '../../src/worker/worker.js';
import { DRIVERS, parseMetrics, sample, until } from './helpers.js';

const FAST = { baseMs: 1, factor: 1, maxMs: 5, jitter: 0 };

describe.each(DRIVERS)('metrics move with the work ($name)', ({ make, drop }) => {
  let store: Store;
  let metrics: GafferMetrics;
  let client: GafferClient;
  let worker: Worker;
  let healed = false;
  const q = `obs_${randomUUID().slice(0, 8)}`;
  const ghostQ = `${q}_ghost`;
  const idleQ = `${q}_idle`;
  const scrape = async () => parseMetrics(await metrics.metrics());

  beforeAll(async () => {
    store = await make();
    metrics = new GafferMetrics(store, { cacheMs: 0 }).attach();
    client = new GafferClient(store);
    worker = new Worker({
      transport: new DirectTransport(store, { pollIntervalMs: 20 }),
      logger: silentLogger,
      queues: [q],
      concurrency: 4,
      heartbeatMs: 50,
      machineId: 'obs-machine',
    })
      .handle('ok', async () => ({ ok: true }))
      .handle('boom', async () => {
        if (!healed) throw new Error('provider down');
        return { ok: true };
      })
      .handle('fatal', async () => {
        throw new NonRetryableError('report template is missing');
      })
      .handle(
        'slow',
        (_p, ctx) =>
          new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))),
      );
  });

  afterAll(async () => {
    await worker.stop();
    metrics.close();
    await drop(store);
  });

  it('counts creations, attempts by outcome, manual retries, dead letters, durations and pickups', async () => {
    const before = await scrape();
    expect(sample(before, 'gaffer_tasks_created_total', { type: 'ok', queue: q })).toBeUndefined();
    expect(sample(before, 'gaffer_store_up')).toBe(1);

    for (let i = 0; i < 3; i++) await client.enqueue('ok', { i }, { queue: q });
    const boom = [
      await client.enqueue('boom', {}, { queue: q, maxAttempts: 2, backoff: FAST }),
      await client.enqueue('boom', {}, { queue: q, maxAttempts: 2, backoff: FAST }),
    ];
    await client.enqueue('fatal', {}, { queue: q });
    await client.enqueue('slow', {}, { queue: q, timeoutMs: 100, maxAttempts: 1 });
    await worker.start();
    await until(async () => {
      const c = await store.countTasks({ queue: q });
      return c.completed === 3 && c.failed === 4;
    });

    // A manual retry that fails again, then one that succeeds.
    await store.retryTask({ taskId: boom[0]!.id, by: 'ops', reason: 'provider back?' });
    await until(async () => {
      const t = await store.getTask(boom[0]!.id);
      return t.status === 'failed' && t.manualRetries === 1;
    });
    healed = true;
    await store.retryTask({ taskId: boom[1]!.id, by: 'ops', reason: 'provider back' });
    await until(async () => (await store.getTask(boom[1]!.id)).status === 'completed');

    // A lost lease and a cancelled attempt, driven through the store by a worker that never reports.
    const ghost = await store.registerWorker({ machineId: 'ghost-machine', types: ['ghost'] });
    const lost = await client.enqueue('ghost', {}, { queue: ghostQ, maxAttempts: 1 });
    const [held] = await store.claimTasks({ workerId: ghost.id, queues: [ghostQ], limit: 1 });
    expect(held?.id).toBe(lost.id);
    await store.rescueLeases({ now: new Date(Date.now() + 31_000) });
    expect((await store.getTask(lost.id)).status).toBe('failed');
    const toCancel = await client.enqueue('ghost', {}, { queue: ghostQ });
    const [running] = await store.claimTasks({ workerId: ghost.id, queues: [ghostQ], limit: 1 });
    await store.cancelTask({ taskId: toCancel.id, by: 'ops' });
    await store.failTask({
      taskId: toCancel.id,
      attempt: running!.attempt,
      workerId: ghost.id,
      error: { message: 'cancelled', kind: 'cancelled' },
    });

    // Work nobody takes: old, runnable, of a type no live worker serves.
    const past = new Date(Date.now() - 120_000);
    await client.enqueue('orphan', {}, { queue: idleQ, runAt: past });
    await client.enqueue('orphan', {}, { queue: idleQ, runAt: past });

    const m = await scrape();
    const v = (name: string, labels: Record<string, string> = {}) => sample(m, name, labels);

    expect(v('gaffer_tasks_created_total', { type: 'ok', queue: q })).toBe(3);
    expect(v('gaffer_tasks_created_total', { type: 'boom', queue: q })).toBe(2);
    expect(v('gaffer_tasks_created_total', { type: 'orphan', queue: idleQ })).toBe(2);

    expect(v('gaffer_task_attempts_total', { type: 'ok', outcome: 'completed' })).toBe(3);
    expect(v('gaffer_task_attempts_total', { type: 'ok', outcome: 'failed' })).toBe(0);
    // Two attempts each for both boom tasks, then a fresh budget of two for the failed manual retry.
    expect(v('gaffer_task_attempts_total', { type: 'boom', outcome: 'failed' })).toBe(6);
    expect(v('gaffer_task_attempts_total', { type: 'boom', outcome: 'completed' })).toBe(1);
    expect(v('gaffer_task_attempts_total', { type: 'fatal', outcome: 'failed' })).toBe(1);
    expect(v('gaffer_task_attempts_total', { type: 'slow', outcome: 'timeout' })).toBe(1);
    expect(v('gaffer_task_attempts_total', { type: 'ghost', outcome: 'lost' })).toBe(1);
    expect(v('gaffer_task_attempts_total', { type: 'ghost', outcome: 'cancelled' })).toBe(1);

    expect(v('gaffer_retries_scheduled_total', { type: 'boom' })).toBe(3);
    expect(v('gaffer_tasks_dead_lettered_total', { type: 'boom' })).toBe(3);
    expect(v('gaffer_tasks_dead_lettered_total', { type: 'fatal' })).toBe(1);
    expect(v('gaffer_tasks_dead_lettered_total', { type: 'slow' })).toBe(1);
    expect(v('gaffer_tasks_dead_lettered_total', { type: 'ghost' })).toBe(1);

    expect(v('gaffer_retry_attempts_total', { type: 'boom' })).toBe(2);
    expect(v('gaffer_retry_success_total', { type: 'boom' })).toBe(1);
    expect(v('gaffer_retry_failure_total', { type: 'boom' })).toBe(1);
    expect(v('gaffer_retry_duration_seconds_count', { type: 'boom', outcome: 'success' })).toBe(1);
    expect(v('gaffer_retry_duration_seconds_count', { type: 'boom', outcome: 'failure' })).toBe(1);
    expect(v('gaffer_retry_duration_seconds_sum', { type: 'boom', outcome: 'success' })).toBeGreaterThan(0);

    expect(v('gaffer_task_duration_seconds_count', { type: 'ok', outcome: 'completed' })).toBe(3);
    expect(v('gaffer_task_duration_seconds_count', { type: 'slow', outcome: 'timeout' })).toBe(1);
    // The timed-out attempt ran at least its 100 ms timeout.
    expect(
      v('gaffer_task_duration_seconds_sum', { type: 'slow', outcome: 'timeout' }),
    ).toBeGreaterThanOrEqual(0.09);
    expect(v('gaffer_task_pickup_latency_seconds_count', { type: 'ok', queue: q })).toBe(3);
    expect(v('gaffer_task_pickup_latency_seconds_bucket', { type: 'ok', queue: q, le: '+Inf' })).toBe(3);

    // Gauges, from the database.
    expect(v('gaffer_dead_letters', { queue: q, type: 'boom' })).toBe(1);
    expect(v('gaffer_dead_letters', { queue: q, type: 'fatal' })).toBe(1);
    expect(v('gaffer_dead_letters', { queue: q, type: 'slow' })).toBe(1);
    expect(v('gaffer_dead_letters', { queue: ghostQ, type: 'ghost' })).toBe(1);
    expect(v('gaffer_queue_depth', { queue: idleQ, status: 'queued' })).toBe(2);
    expect(v('gaffer_queue_oldest_age_seconds', { queue: idleQ })).toBeGreaterThanOrEqual(119);
    expect(v('gaffer_tasks_waiting', { queue: idleQ, type: 'orphan' })).toBe(2);
    expect(v('gaffer_tasks_waiting_unserved', { queue: idleQ, type: 'orphan' })).toBe(2);
    expect(v('gaffer_workers', { state: 'live' })).toBe(2);
    expect(v('gaffer_workers', { state: 'stale' })).toBe(0);
  });

  it('exposes the counters a worker reports with its heartbeats, per worker id', async () => {
    const s = worker.summary();
    const labels = { worker_id: worker.id!, machine_id: 'obs-machine' };
    const m = await until(async () => {
      const m = await scrape();
      return sample(m, 'gaffer_worker_processed', labels) === s.processed ? m : null;
    });
    expect(s.processed).toBe(3 + 6 + 1 + 1 + 1);
    expect(sample(m, 'gaffer_worker_failed', labels)).toBe(s.failed);
    expect(sample(m, 'gaffer_worker_success_ratio', labels)).toBeCloseTo(s.completed / s.processed, 5);
    expect(sample(m, 'gaffer_worker_uptime_seconds', labels)).toBeGreaterThanOrEqual(0);
  });

  it('counts a stopped worker as stale and drops its per-worker series', async () => {
    const id = worker.id!;
    await worker.stop();
    const m = await scrape();
    expect(sample(m, 'gaffer_workers', { state: 'live' })).toBe(1);
    expect(sample(m, 'gaffer_workers', { state: 'stale' })).toBe(1);
    expect(
      sample(m, 'gaffer_worker_processed', { worker_id: id, machine_id: 'obs-machine' }),
    ).toBeUndefined();
  });
});

describe('metrics snapshot cache', () => {
  it('reads the database once per cache period, shares a read between concurrent scrapes, and reports a failure', async () => {
    let calls = 0;
    let fail = false;
    let clock = 0;
    const fake = {
      onEvent: () => () => {},
      metricsSnapshot: async () => {
        calls++;
        if (fail) throw new Error('connection refused');
        return { at: new Date(), depth: [], waiting: [], deadLetters: [], liveWorkers: [], staleWorkers: 0 };
      },
    };
    const metrics = new GafferMetrics(fake, { cacheMs: 1000, now: () => clock });
    await Promise.all([metrics.metrics(), metrics.metrics(), metrics.metrics()]);
    expect(calls).toBe(1);
    clock = 999;
    await metrics.metrics();
    expect(calls).toBe(1);
    clock = 1000;
    fail = true;
    const text = await metrics.metrics();
    expect(calls).toBe(2);
    expect(sample(parseMetrics(text), 'gaffer_store_up')).toBe(0);
  });
});
