import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/engine/logger.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import { client, waitFor } from './helpers.js';

// Issue 14, item 3 over the worker protocol from another language: the example Python worker raises
// RateLimited on a task's first attempt; the task waits, runs again and completes on its one attempt.
const WORKER = fileURLToPath(new URL('../../examples/python-worker/worker.py', import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), 'gaffer-pyrl-'));
let server: RunningServer;
let call: ReturnType<typeof client>;
let py: ChildProcess | null = null;

beforeAll(async () => {
  server = await startServer({ dataDir, port: 0, logger: silentLogger, maintenance: false });
  call = client(server.app);
});

afterAll(async () => {
  if (py && py.exitCode === null) py.kill('SIGKILL');
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the Python worker reports a rate limit', () => {
  it('rate-limited then completed, no attempt spent', async () => {
    const created = await call('POST', '/api/v1/tasks', {
      type: 'py.limited',
      payload: { retryAfterMs: 200 },
      maxAttempts: 1,
    });
    let out = ''; // its log lines, on stderr
    py = spawn('python3', [WORKER, '--url', server.url, '--types', 'py.limited', '--wait-ms', '500'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    py.stderr!.on('data', (d) => {
      out += String(d);
    });
    const id = created.body.task.id as string;
    const done = await waitFor(async () => {
      const t = (await call('GET', `/api/v1/tasks/${id}`)).body;
      return t.status === 'completed' ? t : null;
    }, 'the task to complete');
    expect(done).toMatchObject({ attempt: 2, result: { attempt: 2 } });
    const events = (await call('GET', `/api/v1/tasks/${id}/events`)).body.items as Array<{
      kind: string;
      data: Record<string, unknown> | null;
    }>;
    const limited = events.find((e) => e.kind === 'rate_limited');
    expect(limited?.data).toMatchObject({ retryAfterMs: 200, reason: '429 Too Many Requests' });
    expect(out).toContain('task_rate_limited');
  });
});
