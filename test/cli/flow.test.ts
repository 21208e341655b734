import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

describe('gaffer pause | resume | limits, enqueue --concurrency-key', { timeout: 180_000 }, () => {
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

  it('sets limits, lists them, pauses and resumes a queue, and clears the limits', async () => {
    const url = server.url;
    const set = await gaffer(
      url,
      'limits',
      'set',
      '--queue',
      'cli-llm',
      '--concurrency',
      '20',
      '--key-rate',
      '60/1m',
    );
    expect(set.code).toBe(0);
    expect(set.out.trim()).toBe(
      'queue cli-llm: running, concurrency 20, rate per key 60/1m; 0 running, 0 waiting',
    );

    const e = await gaffer(
      url,
      'enqueue',
      'llm.call',
      '{}',
      '--queue',
      'cli-llm',
      '--concurrency-key',
      'openai',
      '--json',
    );
    expect(e.code).toBe(0);
    expect(JSON.parse(e.out).task.concurrencyKey).toBe('openai');
    const file = join(tmpdir(), `flow-${process.pid}.jsonl`);
    await writeFile(file, '{"type":"llm.call"}\n{"type":"llm.call","concurrencyKey":"mistral"}\n');
    expect(
      (await gaffer(url, 'enqueue', '--file', file, '--queue', 'cli-llm', '--concurrency-key', 'cohere'))
        .code,
    ).toBe(0);
    const keys = (await store.listTasks({ queue: 'cli-llm', limit: 10 })).items
      .map((t) => t.concurrencyKey)
      .sort();
    expect(keys).toEqual(['cohere', 'mistral', 'openai']);

    const paused = await gaffer(url, 'pause', '--queue', 'cli-llm', '--by', 'ops');
    expect(paused.out.trim()).toBe(
      'queue cli-llm: paused by ops, concurrency 20, rate per key 60/1m; 0 running, 3 waiting',
    );
    const list = await gaffer(url, 'limits', '--json');
    const items = JSON.parse(list.out).items as Array<{ name: string; paused: boolean; waiting: number }>;
    expect(items.find((c) => c.name === 'cli-llm')).toMatchObject({ paused: true, waiting: 3 });
    const table = await gaffer(url, 'limits');
    expect(table.out).toContain('cli-llm');
    expect(table.out).toContain('60/1m');

    const resumed = await gaffer(url, 'resume', '--queue', 'cli-llm');
    expect(resumed.out.trim()).toBe(
      'queue cli-llm: running, concurrency 20, rate per key 60/1m; 0 running, 0 waiting',
    );
    expect((await gaffer(url, 'limits', 'clear', '--queue', 'cli-llm')).out.trim()).toBe('limits removed');
    expect((await gaffer(url, 'limits')).out.trim()).toBe('no queue or type is paused or limited');
  });

  it('refuses a bad rate, and a command naming neither or both of --queue and --type', async () => {
    const url = server.url;
    const bad = await gaffer(url, 'limits', 'set', '--type', 'x', '--rate', 'fast');
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('must be N/interval');
    const none = await gaffer(url, 'pause');
    expect(none.code).toBe(1);
    expect(none.err).toContain('name one of --queue <name> or --type <name>');
    const both = await gaffer(url, 'resume', '--queue', 'a', '--type', 'b');
    expect(both.code).toBe(1);
  });
});
