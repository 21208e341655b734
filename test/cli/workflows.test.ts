import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/engine/logger.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import { openPgliteStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/store.js';

const run = promisify(execFile);

/** `gaffer <args>` as a child process against the test server. */
async function gaffer(url: string, ...args: string[]): Promise<{ out: string; err: string; code: number }> {
  try {
    const r = await run(process.execPath, ['bin/gaffer.js', ...args, '--url', url], {
      env: { ...process.env, GAFFER_LOG_LEVEL: 'silent', NO_COLOR: '1' },
      timeout: 60_000,
    });
    return { out: r.stdout, err: r.stderr, code: 0 };
  } catch (e) {
    const x = e as { stdout: string; stderr: string; code: number };
    return { out: x.stdout, err: x.stderr, code: x.code };
  }
}

describe('gaffer signal and waiting tasks from the CLI', { timeout: 120_000 }, () => {
  let store: Store;
  let server: RunningServer;

  beforeAll(async () => {
    store = await openPgliteStore();
    server = await startServer({ store, port: 0, logger: silentLogger, maintenance: false });
  });
  afterAll(async () => {
    await server.close();
    await store.close();
  });

  it('lists waiting tasks and signals one with data; refuses what cannot be signalled', async () => {
    const { tasks } = await store.createTasks({
      tasks: [{ type: 'cli.approve', waitFor: { signal: true } }],
    });
    const id = tasks[0]!.id;
    const listed = await gaffer(server.url, 'tasks', '--status', 'waiting', '--json');
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.out) as { items: Array<{ id: string }> }).items.map((t) => t.id)).toContain(id);

    const bad = await gaffer(server.url, 'signal', id, '--data', '{nope');
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('--data is not JSON');

    const ok = await gaffer(server.url, 'signal', id, '--data', '{"approvedBy":"ada"}');
    expect(ok.code).toBe(0);
    expect(ok.out).toContain(`${id}: queued (signalled)`);
    const task = await store.getTask(id);
    expect(task.status).toBe('queued');
    expect(task.metadata['gaffer.wake']).toEqual({ kind: 'signal', data: { approvedBy: 'ada' } });

    const again = await gaffer(server.url, 'signal', id, '--json');
    expect(again.code).toBe(1);
    expect(JSON.parse(again.err)).toMatchObject({ error: { code: 'conflict' } });
  });
});
