import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/engine/logger.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import { openPgliteStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/store.js';

const run = promisify(execFile);

/** Runs the bin as a user would (dist/, compiled by the global setup when stale). */
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

describe('gaffer enqueue --debounce / --throttle', { timeout: 120_000 }, () => {
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

  it('debounces into the waiting task and says so', async () => {
    const url = server.url;
    const a = await gaffer(
      url,
      'enqueue',
      'cli.digest',
      '{"v":1}',
      '--debounce',
      'u1',
      '--window',
      '60000',
      '--json',
    );
    expect(a.code).toBe(0);
    const first = JSON.parse(a.out) as { task: { id: string }; outcome: string };
    expect(first.outcome).toBe('created');
    const b = await gaffer(url, 'enqueue', 'cli.digest', '{"v":2}', '--debounce', 'u1', '--window', '60000');
    expect(b.code).toBe(0);
    expect(b.out.trim()).toBe(`${first.task.id} queued (debounced)`);
    expect((await store.getTask(first.task.id)).payload).toEqual({ v: 2 });
  });

  it('throttles within the window', async () => {
    const url = server.url;
    const a = await gaffer(url, 'enqueue', 'cli.sync', '--throttle', 'acct', '--window', '60000');
    const b = await gaffer(url, 'enqueue', 'cli.sync', '--throttle', 'acct', '--window', '60000');
    const id = a.out.split(' ')[0]!;
    expect(b.out.trim()).toBe(`${id} queued (throttled)`);
  });

  it('refuses a key without its window, and both keys at once', async () => {
    const url = server.url;
    const a = await gaffer(url, 'enqueue', 'cli.x', '--throttle', 'k');
    expect(a.code).toBe(1);
    expect(a.err).toContain('--throttle needs --window <ms>');
    const b = await gaffer(url, 'enqueue', 'cli.x', '--throttle', 'k', '--debounce', 'k', '--window', '5');
    expect(b.code).toBe(1);
    expect(b.err).toContain('cannot be combined');
  });
});
