import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/engine/logger.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import { openPgliteStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/store.js';

const run = promisify(execFile);

async function gaffer(url: string, ...args: string[]): Promise<{ out: string; code: number }> {
  try {
    const r = await run(process.execPath, ['bin/gaffer.js', ...args, '--url', url], {
      env: { ...process.env, GAFFER_LOG_LEVEL: 'silent', NO_COLOR: '1' },
      timeout: 60_000,
    });
    return { out: r.stdout, code: 0 };
  } catch (e) {
    const x = e as { stdout: string; code: number };
    return { out: x.stdout, code: x.code };
  }
}

// Issue 14, item 6: `gaffer stats` shows flow control beside the counts and queues; /metrics has its gauges.
describe('flow control in gaffer stats and /metrics', { timeout: 120_000 }, () => {
  let store: Store;
  let server: RunningServer;

  beforeAll(async () => {
    store = await openPgliteStore();
    server = await startServer({ store, port: 0, logger: silentLogger, maintenance: false });
    await store.setLimits({ scope: 'queue', name: 'llm', concurrency: 2, keyConcurrency: 1 });
    await store.pauseFlow({ scope: 'type', name: 'report.build', by: 'ops' });
    await store.createTasks({
      tasks: [
        { type: 'report.build', payload: {} },
        { type: 'report.build', payload: {} },
      ],
    });
  });
  afterAll(async () => {
    await server.close();
    await store.close();
  });

  it('gaffer stats prints the paused type and the limited queue, and --json carries them', async () => {
    const table = await gaffer(server.url, 'stats');
    expect(table.code).toBe(0);
    if (!/report\.build/.test(table.out)) throw new Error(`no flow table in:\n${table.out}`);
    const rows = table.out.split('\n');
    const cells = (name: string) =>
      rows
        .find((r) => r.split(/\s+/).includes(name))
        ?.trim()
        .split(/\s*│\s*|\s+/)
        .filter((c) => c !== '');
    // scope, name, paused, concurrency, per key, rate, rate per key, running, waiting, …
    expect(cells('report.build')?.slice(0, 9)).toEqual([
      'type',
      'report.build',
      'yes',
      '-',
      '-',
      '-',
      '-',
      '0',
      '2',
    ]);
    expect(cells('llm')?.slice(0, 5)).toEqual(['queue', 'llm', 'no', '2', '1']);
    const json = JSON.parse((await gaffer(server.url, 'stats', '--json')).out) as {
      flow: Array<{
        scope: string;
        name: string;
        paused: boolean;
        waiting: number;
        concurrency: number | null;
      }>;
    };
    expect(json.flow).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ scope: 'type', name: 'report.build', paused: true, waiting: 2 }),
        expect.objectContaining({ scope: 'queue', name: 'llm', paused: false, concurrency: 2 }),
      ]),
    );
  });

  it('/metrics has the paused, running, waiting and limit gauges', async () => {
    const res = await fetch(`${server.url}/metrics`);
    const text = await res.text();
    expect(text).toContain('gaffer_queue_paused{scope="type",name="report.build"} 1');
    expect(text).toContain('gaffer_queue_paused{scope="queue",name="llm"} 0');
    expect(text).toContain('gaffer_limit_waiting{scope="type",name="report.build"} 2');
    expect(text).toContain('gaffer_limit_running{scope="queue",name="llm"} 0');
    expect(text).toContain('gaffer_limit_max{scope="queue",name="llm",limit="concurrency"} 2');
    expect(text).toContain('gaffer_limit_max{scope="queue",name="llm",limit="key_concurrency"} 1');
  });
});
