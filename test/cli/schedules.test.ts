import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/engine/logger.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import { openPgliteStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/store.js';

const run = promisify(execFile);

/** `gaffer <args> --url <server>` as a child process, as a user runs it. */
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

describe('gaffer schedules', { timeout: 120_000 }, () => {
  let store: Store;
  let server: RunningServer;
  let url: string;

  beforeAll(async () => {
    store = await openPgliteStore();
    server = await startServer({
      store,
      port: 0,
      logger: silentLogger,
      maintenance: false,
      scheduler: { pollIntervalMs: 50 },
    });
    url = server.url;
  });
  afterAll(async () => {
    await server.close();
    await store.close();
  });

  it('sets, lists, shows, pauses, resumes and deletes a schedule', async () => {
    const set = await gaffer(
      url,
      'schedules',
      'set',
      'nightly',
      '--type',
      'report.build',
      '--cron',
      '0 2 * * *',
      '--tz',
      'Europe/Berlin',
      '--payload',
      '{"scope":"all"}',
      '--queue',
      'reports',
      '--catch-up',
      'run',
      '--catch-up-limit',
      '3',
      '--json',
    );
    expect(set.code, set.err).toBe(0);
    const created = JSON.parse(set.out);
    expect(created).toMatchObject({
      created: true,
      schedule: {
        name: 'nightly',
        timezone: 'Europe/Berlin',
        payload: { scope: 'all' },
        task: { queue: 'reports' },
        catchUp: 'run',
        catchUpLimit: 3,
      },
    });
    // 02:00 in Berlin is 00:00 or 01:00 UTC.
    expect(created.schedule.nextRunAt).toMatch(/T0[01]:00:00\.000Z$/);

    const table = await gaffer(url, 'schedules');
    expect(table.code, table.err).toBe(0);
    expect(table.out).toMatch(/nightly.*cron 0 2 \* \* \* \(Europe\/Berlin\).*report\.build.*active/);
    const list = JSON.parse((await gaffer(url, 'schedules', 'list', '--json')).out);
    expect(list.items.map((s: { name: string }) => s.name)).toEqual(['nightly']);
    expect(list.nextCursor).toBeNull();

    const paused = await gaffer(url, 'schedules', 'pause', 'nightly');
    expect(paused.out).toBe('nightly paused\n');
    expect((await gaffer(url, 'schedules', 'list', '--paused', '--json')).out).toContain('"nightly"');
    const resumed = await gaffer(url, 'schedules', 'resume', 'nightly', '--json');
    expect(JSON.parse(resumed.out).schedule.paused).toBe(false);
    const got = JSON.parse((await gaffer(url, 'schedules', 'get', 'nightly', '--json')).out);
    expect(got.schedule.upcoming).toHaveLength(5);
    expect(got.events.map((e: { kind: string }) => e.kind)).toEqual(['resumed', 'paused', 'created']);

    expect((await gaffer(url, 'schedules', 'delete', 'nightly')).out).toBe('nightly deleted\n');
    const gone = await gaffer(url, 'schedules', 'get', 'nightly');
    expect(gone.code).toBe(1);
    expect(gone.err).toMatch(/not_found/);
  });

  it('refuses a bad cron and time zone naming both, and an interval schedule ticks', async () => {
    const bad = await gaffer(
      url,
      'schedules',
      'set',
      'bad',
      '--type',
      'x',
      '--cron',
      '99 * * * *',
      '--tz',
      'Mars/Base',
    );
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/validation/);
    expect(bad.err).toMatch(/cron/);
    expect(bad.err).toMatch(/timezone/);

    const set = await gaffer(
      url,
      'schedules',
      'set',
      'fast',
      '--type',
      'tick',
      '--every',
      '200',
      '--queue',
      'cli-ticks',
    );
    expect(set.code, set.err).toBe(0);
    expect(set.out).toMatch(/^fast created: every 200 ms, next run /);
    const deadline = Date.now() + 20_000;
    let n = 0;
    while (Date.now() < deadline && n < 2) {
      n = (await store.listTasks({ queue: 'cli-ticks' })).items.length;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(n).toBeGreaterThanOrEqual(2);
    await gaffer(url, 'schedules', 'delete', 'fast');
  });

  it('enqueue --idempotency-ttl-ms gives the key a window', async () => {
    const args = [
      'enqueue',
      'ttl.cli',
      '{}',
      '--idempotency-key',
      'cli-ttl',
      '--idempotency-ttl-ms',
      '600000',
      '--json',
    ];
    const first = await gaffer(url, ...args);
    expect(first.code, first.err).toBe(0);
    const task = JSON.parse(first.out).task;
    expect(Date.parse(task.idempotencyExpiresAt) - Date.parse(task.createdAt)).toBe(600_000);
    expect(JSON.parse((await gaffer(url, ...args)).out).task.id).toBe(task.id);
    const bad = await gaffer(url, 'enqueue', 'ttl.cli', '{}', '--idempotency-ttl-ms', '1000');
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/idempotencyTtlMs/);
  });
});
