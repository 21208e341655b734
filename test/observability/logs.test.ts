import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GafferClient } from '../../src/client/client.js';
import { NonRetryableError } from '../../src/core/errors.js';
import { logStoreEvents } from '../../src/engine/event-log.js';
import { createLogger, wantsPretty } from '../../src/engine/logger.js';
import { MaintenanceService } from '../../src/engine/maintenance.js';
import type { Store } from '../../src/store/store.js';
import { DirectTransport } from '../../src/worker/direct-transport.js';
import { Worker } from '../../src/worker/worker.js';
import { DRIVERS, LogCapture, until } from './helpers.js';

describe.each(DRIVERS)('structured logs ($name)', ({ make, drop }) => {
  let store: Store;
  const logs = new LogCapture();
  let unlog: () => void;
  const q = `log_${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    store = await make();
    unlog = logStoreEvents(store, createLogger({ name: 'gaffer-server', level: 'debug', destination: logs }));
  });
  afterAll(async () => {
    unlog();
    await drop(store);
  });

  it('writes JSON lines with named events and the task, session and worker ids', async () => {
    const log = createLogger({ name: 'gaffer-worker', level: 'info', destination: logs });
    const client = new GafferClient(store);
    const worker = new Worker({
      transport: new DirectTransport(store, { pollIntervalMs: 20 }),
      logger: log,
      queues: [q],
      heartbeatMs: 50,
    })
      .handle('ok', async () => 'done')
      .handle('flaky', async () => {
        throw new Error('upstream 502');
      })
      .handle('poison', async () => {
        throw new NonRetryableError('cannot parse');
      });
    await worker.start();
    const { session } = await client.createSession({
      key: 'study-1',
      queue: q,
      tasks: [{ type: 'ok', payload: {} }],
    });
    const flaky = await client.enqueue(
      'flaky',
      {},
      { queue: q, maxAttempts: 2, backoff: { baseMs: 1, maxMs: 2 } },
    );
    const poison = await client.enqueue('poison', {}, { queue: q });
    await until(async () => (await store.countTasks({ queue: q })).failed === 2);
    await store.retryTask({ taskId: poison.id, by: 'alice', reason: 'fixed the parser' });
    await until(
      async () =>
        (await store.getTask(poison.id)).manualRetries === 1 &&
        logs.events('task_retried_by_hand').length > 0,
    );
    await until(async () => (await store.getTask(poison.id)).status === 'failed');
    const workerId = worker.id!;
    await worker.stop();

    // A worker that goes silent: the sweep marks it stale and lapses its lease.
    const maintenance = new MaintenanceService(store, {
      logger: createLogger({ level: 'info', destination: logs }),
    });
    const ghost = await store.registerWorker({ machineId: 'ghost', types: ['ok'] });
    const lost = await client.enqueue('ok', {}, { queue: `${q}_ghost` });
    await store.claimTasks({ workerId: ghost.id, queues: [`${q}_ghost`], limit: 1 });
    await maintenance.sweep(new Date(Date.now() + 120_000));

    expect(logs.unparsable).toEqual([]);
    expect(logs.lines.length).toBeGreaterThan(10);
    for (const l of logs.lines) {
      expect(typeof l.time).toBe('string');
      expect(typeof l.level).toBe('number');
    }
    const names = new Set(logs.lines.map((l) => l.event));
    for (const e of [
      'worker_startup',
      'worker_registered',
      'task_created',
      'task_claimed',
      'task_completed',
      'task_failed',
      'retry_scheduled',
      'dead_lettered',
      'task_retried_by_hand',
      'worker_shutdown',
      'worker_deregistered',
      'worker_stale',
      'lease_lost',
      'maintenance_run',
    ]) {
      expect(names, `missing event ${e}`).toContain(e);
    }

    // Ids: the session's task carries its session id from both sides; worker lines carry the worker id.
    const created = logs.events('task_created').find((l) => l.sessionId === session.id);
    expect(created?.taskId).toBeTruthy();
    const claimed = logs.events('task_claimed').filter((l) => l.taskId === created?.taskId);
    expect(claimed.some((l) => l.workerId === workerId && l.sessionId === session.id)).toBe(true);
    const completed = logs
      .events('task_completed')
      .find((l) => l.name === 'gaffer-worker' && l.taskId === created?.taskId);
    expect(completed).toMatchObject({ workerId, sessionId: session.id, type: 'ok' });
    expect(typeof completed?.durationMs).toBe('number');
    expect(logs.events('dead_lettered').map((l) => l.taskId)).toContain(flaky.id);
    expect(logs.events('task_retried_by_hand').find((l) => l.taskId === poison.id)).toMatchObject({
      by: 'alice',
      reason: 'fixed the parser',
    });
    expect(logs.events('worker_startup')[0]).toMatchObject({ workerId });
    expect(logs.events('worker_shutdown')[0]).toMatchObject({
      workerId,
      processed: 5,
      completed: 1,
      failed: 4,
    });
    expect(logs.events('worker_stale').map((l) => l.workerId)).toContain(ghost.id);
    expect(logs.events('lease_lost').find((l) => l.taskId === lost.id)).toMatchObject({ workerId: ghost.id });
    expect(logs.events('maintenance_run').find((l) => l.job === 'sweep')).toMatchObject({ lost: 1 });
    // Levels: warn for what needs a look.
    expect(logs.events('dead_lettered').every((l) => l.level === 40)).toBe(true);
  });
});

describe('logger', () => {
  it('redacts tokens, authorization headers, database and webhook URLs', () => {
    const logs = new LogCapture();
    const log = createLogger({ destination: logs });
    log.info({
      event: 'x',
      token: 'gft_secret',
      headers: { authorization: 'Bearer gft_secret' },
      req: { headers: { authorization: 'Bearer gft_secret' } },
      opts: { databaseUrl: 'postgres://u:pw@db/app', webhookUrl: 'https://hooks.example/T0/secret' },
    });
    expect(logs.raw.join('\n')).not.toMatch(/gft_secret|pw@|T0\/secret/);
    expect(logs.lines[0]).toMatchObject({ token: '[redacted]', headers: { authorization: '[redacted]' } });
  });

  it('is pretty for humans on a terminal or when GAFFER_LOG_PRETTY=1, JSON otherwise', () => {
    expect(wantsPretty('auto', {}, true)).toBe(true);
    expect(wantsPretty('auto', {}, false)).toBe(false);
    expect(wantsPretty(undefined, {}, true)).toBe(false);
    expect(wantsPretty(undefined, { GAFFER_LOG_PRETTY: '1' }, false)).toBe(true);
    expect(wantsPretty('auto', { GAFFER_LOG_PRETTY: '0' }, true)).toBe(false);

    const out: string[] = [];
    const sink = new LogCapture();
    sink._write = (chunk, _enc, done) => {
      out.push(chunk.toString());
      done();
    };
    const prev = process.env.GAFFER_LOG_PRETTY;
    process.env.GAFFER_LOG_PRETTY = '1';
    try {
      createLogger({ destination: sink }).warn({ event: 'task_failed', taskId: 't1' }, 'task failed');
    } finally {
      if (prev === undefined) delete process.env.GAFFER_LOG_PRETTY;
      else process.env.GAFFER_LOG_PRETTY = prev;
    }
    const text = out.join('');
    expect(text).toContain('task_failed task failed');
    expect(text).toContain('t1');
    expect(() => JSON.parse(text)).toThrow();
  });
});
