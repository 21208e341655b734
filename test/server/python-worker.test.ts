import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/engine/logger.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import { client, waitFor } from './helpers.js';

// A real server on the embedded store (PGlite in a data directory), and the example
// Python worker run with python3 against it over HTTP.
const WORKER = fileURLToPath(new URL('../../examples/python-worker/worker.py', import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), 'gaffer-py-'));
let server: RunningServer;
let call: ReturnType<typeof client>;
let py: ChildProcess | null = null;
let stdout = '';
let stderr = '';

beforeAll(async () => {
  server = await startServer({
    dataDir,
    port: 0,
    logger: silentLogger,
    storeOptions: { leaseMs: 3000 },
    maintenance: { sweepIntervalMs: 200 },
  });
  call = client(server.app);
});

afterAll(async () => {
  if (py && py.exitCode === null) py.kill('SIGKILL');
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function exited(p: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (p.exitCode !== null) resolve(p.exitCode);
    else p.once('exit', (code) => resolve(code));
  });
}

describe('the standard-library Python worker', () => {
  it('registers, claims with long-poll, completes, fails, heartbeats cancellations and stops on SIGTERM', async () => {
    expect(server.store.kind).toBe('pglite');
    const adds = await call('POST', '/api/v1/tasks/bulk', {
      tasks: Array.from({ length: 12 }, (_, i) => ({ type: 'py.add', payload: { a: i, b: 100 } })),
    });
    const flaky = await call('POST', '/api/v1/tasks', {
      type: 'py.fail',
      payload: {},
      maxAttempts: 2,
      backoff: { baseMs: 50, jitter: 0 },
    });
    const fatal = await call('POST', '/api/v1/tasks', {
      type: 'py.fail',
      payload: { fatal: true },
      maxAttempts: 5,
    });

    py = spawn(
      'python3',
      [
        WORKER,
        '--url',
        server.url,
        '--types',
        'py.add,py.fail,py.slow',
        '--concurrency',
        '3',
        '--wait-ms',
        '1000',
        '--grace',
        '5',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GAFFER_MACHINE_ID: 'py-box' } },
    );
    py.stdout!.on('data', (d) => {
      stdout += String(d);
    });
    py.stderr!.on('data', (d) => {
      stderr += String(d);
    });

    // Every add completes with the right result, on attempt 1.
    for (const t of adds.body.tasks as Array<{ id: string; payload: { a: number; b: number } }>) {
      const done = await waitFor(
        async () => {
          const cur = (await call('GET', `/api/v1/tasks/${t.id}`)).body;
          return cur.status === 'completed' ? cur : null;
        },
        `task ${t.id} to complete (python stderr: ${stderr.slice(-500)})`,
      );
      expect(done.result).toEqual({ sum: t.payload.a + 100 });
      expect(done.attempt).toBe(1);
    }
    // A retryable error spends both attempts, then dead-letters; a non-retryable one at once.
    const f = await waitFor(async () => {
      const cur = (await call('GET', `/api/v1/tasks/${flaky.body.task.id}`)).body;
      return cur.status === 'failed' ? cur : null;
    }, 'the flaky task to dead-letter');
    expect(f.attempt).toBe(2);
    expect(f.error).toMatchObject({
      message: 'asked to fail (attempt 2)',
      name: 'RuntimeError',
      retryable: true,
    });
    const g = await waitFor(async () => {
      const cur = (await call('GET', `/api/v1/tasks/${fatal.body.task.id}`)).body;
      return cur.status === 'failed' ? cur : null;
    }, 'the fatal task to dead-letter');
    expect(g.attempt).toBe(1);
    expect(g.error).toMatchObject({ name: 'NonRetryableError', retryable: false });

    // The fleet view shows it, with the machine id it sent.
    const workers = (await call('GET', '/api/v1/workers')).body.items as Array<{
      id: string;
      machineId: string;
      labels: object;
    }>;
    const mine = workers.find((w) => w.machineId === 'py-box');
    expect(mine?.labels).toEqual({ language: 'python' });

    // A cancel reaches the running handler through the heartbeat (every second with a 3 s lease).
    const slow = await call('POST', '/api/v1/tasks', { type: 'py.slow', payload: { steps: 600 } });
    await waitFor(
      async () => (await call('GET', `/api/v1/tasks/${slow.body.task.id}`)).body.progress,
      'progress from the slow task',
    );
    await call('POST', `/api/v1/tasks/${slow.body.task.id}/cancel`, { reason: 'enough' });
    const c = await waitFor(async () => {
      const cur = (await call('GET', `/api/v1/tasks/${slow.body.task.id}`)).body;
      return cur.status === 'cancelled' ? cur : null;
    }, 'the slow task to be cancelled');
    expect(c.status).toBe('cancelled');

    // SIGTERM: a clean exit, deregistered, with a summary.
    py.kill('SIGTERM');
    expect(await exited(py)).toBe(0);
    expect(stdout).toMatch(/stopped: uptime .*processed 1\d, completed 12, failed [34]/);
    expect(stderr).toContain('"event": "worker_shutdown"');
    const after = (await call('GET', `/api/v1/workers/${mine!.id}`)).body.worker;
    expect(after.stale).toBe(true);
    expect(after.deregisteredAt).not.toBeNull();
  });
});
