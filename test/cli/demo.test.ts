// `gaffer serve --demo` (what `npm start` runs) as a user meets it: on a data directory that already
// holds the user's own tasks, run as a child process, read back from its output and its store.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPgliteStore } from '../../src/store/index.js';

const BIN = resolve('bin/gaffer.js');

describe('gaffer serve --demo', { timeout: 180_000 }, () => {
  let dir: string;
  let out = '';
  let userFailedId = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gaffer-demo-'));
    const dataDir = join(dir, 'data');
    // The user's own work, of a type name the demo might have used: a queued task and a dead letter.
    const store = await openPgliteStore({ dataDir });
    await store.createTasks({
      tasks: [
        { type: 'email.send', id: 'user-queued', payload: { to: 'me@example.com' } },
        { type: 'email.send', id: 'user-dead', maxAttempts: 1 },
      ],
    });
    const w = await store.registerWorker({ machineId: 'user-box', types: ['email.send'] });
    const [claimed] = await store.claimTasks({ workerId: w.id, types: ['email.send'], limit: 1 });
    await store.failTask({
      taskId: claimed!.id,
      attempt: claimed!.attempt,
      workerId: w.id,
      error: { message: 'user failure', retryable: false },
    });
    userFailedId = claimed!.id;
    await store.deregisterWorker({ workerId: w.id });
    await store.close();

    const env = { ...process.env };
    for (const k of Object.keys(env)) if (k.startsWith('GAFFER_')) delete env[k];
    const child = spawn(process.execPath, [BIN, 'serve', '--demo', '--port', '0', '--data-dir', dataDir], {
      cwd: dir,
      env,
    });
    child.stdout.on('data', (d) => {
      out += String(d);
    });
    child.stderr.on('data', (d) => {
      out += String(d);
    });
    // Long enough for attempts to fail (a demo email fails 15% of the time, a report 30%).
    const end = Date.now() + 100_000;
    while (Date.now() < end && (out.match(/task_failed/g) ?? []).length < 3) {
      await new Promise((r) => setTimeout(r, 250));
    }
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));

    const after = await openPgliteStore({ dataDir });
    try {
      userState = {
        queued: (await after.getTask(userFailedId === 'user-queued' ? 'user-dead' : 'user-queued')).status,
        dead: (await after.getTask(userFailedId)).status,
        deadRetries: (await after.getTask(userFailedId)).manualRetries,
      };
    } finally {
      await after.close();
    }
  }, 170_000);
  let userState: { queued: string; dead: string; deadRetries: number };
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('logs each failed attempt once: one event, one line', () => {
    const failures = out.split('\n').filter((l) => l.includes('task_failed'));
    expect(failures.length).toBeGreaterThanOrEqual(3);
    const keys = failures.map((l) => {
      const task = l.match(/taskId["':\s]+"?([0-9a-f-]{36})/)?.[1];
      const attempt = l.match(/attempt["':\s]+(\d+)/)?.[1];
      expect(task, l).toBeTruthy();
      return `${task}#${attempt}`;
    });
    expect(new Set(keys).size).toBe(keys.length);
  });

  it("touches none of the user's tasks: its workers run only the demo's types", () => {
    expect(userState).toEqual({ queued: 'queued', dead: 'failed', deadRetries: 0 });
  });
});
