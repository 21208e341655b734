import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/engine/logger.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import { openPgliteStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/store.js';
import { DirectTransport } from '../../src/worker/direct-transport.js';
import { Worker } from '../../src/worker/worker.js';

const run = promisify(execFile);
// The bin a user runs (it runs dist/, which test/helpers/global-setup.ts compiles when stale).
const CLI = ['bin/gaffer.js'];

/** Runs `gaffer <args>` as a user would, against the test server; returns stdout, stderr and the exit code. */
async function gaffer(url: string, ...args: string[]): Promise<{ out: string; err: string; code: number }> {
  try {
    const r = await run(
      process.execPath,
      [...CLI, ...args, ...(args.includes('--data-dir') ? [] : ['--url', url])],
      {
        env: { ...process.env, GAFFER_LOG_LEVEL: 'silent', NO_COLOR: '1' },
        timeout: 60_000,
      },
    );
    return { out: r.stdout, err: r.stderr, code: 0 };
  } catch (e) {
    const x = e as { stdout: string; stderr: string; code: number };
    return { out: x.stdout, err: x.stderr, code: x.code };
  }
}

const json = <T>(s: string) => JSON.parse(s) as T;

describe('gaffer CLI against a running server', { timeout: 120_000 }, () => {
  let dir: string;
  let store: Store;
  let server: RunningServer;
  let url: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gaffer-cli-'));
    store = await openPgliteStore();
    server = await startServer({ store, port: 0, logger: silentLogger, maintenance: false });
    url = server.url;
  });
  afterAll(async () => {
    await server.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('enqueue creates one task and prints its id; tasks lists it as JSON', async () => {
    const r = await gaffer(url, 'enqueue', 'cli.one', '{"n":1}', '--queue', 'cliq', '--id', 'cli-task-1');
    expect(r.code).toBe(0);
    expect(r.out).toContain('cli-task-1 queued');
    const list = json<{ items: Array<{ id: string; payload: unknown }> }>(
      (await gaffer(url, 'tasks', '--queue', 'cliq', '--json')).out,
    );
    expect(list.items.map((t) => t.id)).toEqual(['cli-task-1']);
    expect(list.items[0]!.payload).toEqual({ n: 1 });
  });

  it('enqueue --file streams a JSONL file in batches, all of it', async () => {
    const file = join(dir, 'tasks.jsonl');
    await writeFile(
      file,
      `${Array.from({ length: 250 }, (_, i) => JSON.stringify({ payload: { i } })).join('\n')}\n`,
    );
    const r = await gaffer(
      url,
      'enqueue',
      'cli.bulk',
      '--file',
      file,
      '--queue',
      'bulkq',
      '--batch',
      '100',
      '--json',
    );
    expect(r.code).toBe(0);
    expect(json<{ created: number }>(r.out).created).toBe(250);
    const counts = await store.countTasks({ queue: 'bulkq' });
    expect(counts.queued).toBe(250);
  });

  it('a bad JSONL line is refused with its line number and nothing from its batch is created', async () => {
    const file = join(dir, 'bad.jsonl');
    await writeFile(file, '{"payload":1}\n{oops\n');
    const r = await gaffer(url, 'enqueue', 'cli.bad', '--file', file, '--queue', 'badq');
    expect(r.code).toBe(1);
    expect(r.err).toContain('bad.jsonl:2 is not valid JSON');
    expect((await store.countTasks({ queue: 'badq' })).total).toBe(0);
  });

  it('failed lists dead letters; retry by id and by filter; cancel; delete', async () => {
    const worker = new Worker({
      transport: new DirectTransport(store),
      logger: silentLogger,
      queues: ['deadq'],
    });
    worker.handle('cli.doomed', () => {
      throw new Error('disk full');
    });
    await store.createTasks({
      tasks: [1, 2, 3].map((i) => ({ type: 'cli.doomed', queue: 'deadq', id: `dead-${i}`, maxAttempts: 1 })),
    });
    await worker.start();
    for (let i = 0; i < 200 && ((await store.countTasks({ queue: 'deadq' })).failed ?? 0) < 3; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await worker.stop();

    const failed = json<{ items: Array<{ id: string }> }>(
      (await gaffer(url, 'failed', '--queue', 'deadq', '--json')).out,
    );
    expect(failed.items.map((t) => t.id).sort()).toEqual(['dead-1', 'dead-2', 'dead-3']);
    const table = (await gaffer(url, 'failed', '--queue', 'deadq')).out;
    expect(table).toContain('disk full');

    const one = await gaffer(url, 'retry', 'dead-1', '--reason', 'disk replaced');
    expect(one.out).toContain('dead-1: retrying (manual retry 1)');
    expect((await store.getTask('dead-1')).retryHistory[0]).toMatchObject({ reason: 'disk replaced' });

    const bulk = await gaffer(url, 'retry', '--error', 'disk full', '--type', 'cli.doomed');
    expect(bulk.out).toContain('retried 2 of 2 matching failed tasks');

    const again = await gaffer(url, 'retry', 'dead-1');
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/error \((conflict|not_eligible)\)/);

    const cancel = await gaffer(url, 'cancel', 'dead-2');
    expect(cancel.out).toContain('dead-2: cancelled');
    expect((await gaffer(url, 'delete', 'task', 'dead-3')).out).toContain('deleted task dead-3');
    expect(await store.findTask('dead-3')).toBeNull();
    const missing = await gaffer(url, 'delete', 'task', 'dead-3');
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('not_found');
  });

  it('sessions, session, workers, stats and release show what the server has', async () => {
    await store.upsertTaskType({ type: 'cli.held', tracking: 'hold' });
    const { session, tasks } = await store.createSession({
      id: 'cli-session',
      key: 'short_cli',
      queue: 'sessq',
      tasks: [{ type: 'cli.held' }, { type: 'cli.held' }],
    });
    const w = await store.registerWorker({ machineId: 'cli-box', types: ['cli.held'] });

    const sessions = json<{ items: Array<{ id: string; taskCount: number }> }>(
      (await gaffer(url, 'sessions', '--key', 'short_cli', '--json')).out,
    );
    expect(sessions.items).toMatchObject([{ id: session.id, taskCount: 2 }]);
    const shown = json<{ tasks: Array<{ sessionIndex: number }> }>(
      (await gaffer(url, 'session', session.id, '--json')).out,
    );
    expect(shown.tasks.map((t) => t.sessionIndex)).toEqual([0, 1]);

    const workers = json<{ items: Array<{ id: string }> }>((await gaffer(url, 'workers', '--json')).out);
    expect(workers.items.map((x) => x.id)).toContain(w.id);
    // A page at a time: --limit gives one page and its cursor, --cursor the next.
    const w2 = await store.registerWorker({ machineId: 'cli-box', types: ['cli.held'] });
    const first = json<{ items: Array<{ id: string }>; nextCursor: string | null }>(
      (await gaffer(url, 'workers', '--limit', '1', '--json')).out,
    );
    expect(first.items.map((x) => x.id)).toEqual([w2.id]);
    expect(first.nextCursor).not.toBeNull();
    const next = json<{ items: Array<{ id: string }> }>(
      (await gaffer(url, 'workers', '--limit', '1', '--cursor', first.nextCursor!, '--json')).out,
    );
    expect(next.items.map((x) => x.id)).toEqual([w.id]);
    const table = await gaffer(url, 'workers', '--limit', '1');
    expect(table.out).toContain(`next page: --cursor ${first.nextCursor}`);

    const stats = json<{ counts: { total: number }; workers: { live: number } }>(
      (await gaffer(url, 'stats', '--json')).out,
    );
    expect(stats.counts.total).toBeGreaterThan(0);
    expect(stats.workers.live).toBeGreaterThanOrEqual(1);

    const released = await gaffer(url, 'release', '--key', 'short_cli', '--type', 'cli.held');
    expect(released.out).toContain('released 2 entries');
    expect(await store.getEntry(tasks[0]!.id)).toBeNull();
  }, 180_000);

  it('token create prints a secret once and token list never shows it', async () => {
    const dataDir = join(dir, 'tokens-store');
    const created = await gaffer(
      url,
      'token',
      'create',
      '--role',
      'worker',
      '--name',
      'ci',
      '--data-dir',
      dataDir,
      '--json',
    );
    expect(created.code).toBe(0);
    const { token: record, secret: token } = json<{ token: { role: string }; secret: string }>(created.out);
    expect(record.role).toBe('worker');
    expect(token.length).toBeGreaterThan(20);
    const listed = await gaffer(url, 'token', 'list', '--data-dir', dataDir);
    expect(listed.out).toContain('ci');
    expect(listed.out).not.toContain(token);
    const bad = await gaffer(url, 'token', 'create', '--role', 'boss', '--data-dir', dataDir);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('--role must be one of admin, producer, worker');
  });

  it('task <id> says what the task waits on; tasks --waiting-on lists by reason', async () => {
    const made = await gaffer(url, 'enqueue', 'cli.nobody', '{}', '--queue', 'waitq', '--id', 'cli-wait-1');
    expect(made.code).toBe(0);
    const shown = await gaffer(url, 'task', 'cli-wait-1');
    expect(shown.code).toBe(0);
    expect(shown.out).toContain('waiting on:');
    expect(shown.out).toMatch(/no_live_worker: no live worker takes type "cli.nobody" on queue "waitq"/);
    const asJson = json<{ waitingOn: Array<{ reason: string }> }>(
      (await gaffer(url, 'task', 'cli-wait-1', '--json')).out,
    );
    expect(asJson.waitingOn.map((w) => w.reason)).toEqual(['no_live_worker']);
    const listed = json<{ items: Array<{ id: string }> }>(
      (await gaffer(url, 'tasks', '--queue', 'waitq', '--waiting-on', 'no_live_worker', '--json')).out,
    );
    expect(listed.items.map((t) => t.id)).toEqual(['cli-wait-1']);
    const none = json<{ items: unknown[] }>(
      (await gaffer(url, 'tasks', '--queue', 'waitq', '--waiting-on', 'backoff', '--json')).out,
    );
    expect(none.items).toEqual([]);
    expect((await gaffer(url, 'pause', '--queue', 'waitq')).code).toBe(0);
    const paused = json<{ items: Array<{ id: string }> }>(
      (await gaffer(url, 'tasks', '--queue', 'waitq', '--waiting-on', 'paused', '--json')).out,
    );
    expect(paused.items.map((t) => t.id)).toEqual(['cli-wait-1']);
    expect((await gaffer(url, 'resume', '--queue', 'waitq')).code).toBe(0);
    const bad = await gaffer(url, 'tasks', '--waiting-on', 'lunch');
    expect(bad.code).not.toBe(0);
    expect(bad.err).toContain('no_live_worker');
  });

  it('every command has help', async () => {
    const top = await gaffer(url, '--help');
    for (const cmd of [
      'serve',
      'migrate',
      'worker',
      'enqueue',
      'tasks',
      'failed',
      'sessions',
      'workers',
      'retry',
      'cancel',
      'delete',
      'release',
      'stats',
      'schedules',
      'token',
      'bench',
    ]) {
      expect(top.out).toContain(cmd);
    }
    const worker = await gaffer(url, 'worker', '--help');
    expect(worker.out).toContain('gaffer worker N <session>');
    // gaffer bench passes its flags to the benchmark, whose --help lists the systems and scenarios.
    const bench = await run(process.execPath, [...CLI, 'bench', '--help'], { timeout: 60_000 });
    expect(bench.stdout).toContain('graphile-worker, pg-boss, bullmq');
    expect(bench.stdout).toContain('--quick');
    const wrong = await run(process.execPath, [...CLI, 'bench', '--quik'], { timeout: 60_000 }).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(wrong).toMatchObject({ code: 2, stderr: expect.stringContaining('unexpected argument --quik') });
  });
});
