// The CLI as a newcomer meets it: the installed bin (bin/gaffer.js runs the build in dist/), run as a
// child process from a project outside this repository, with no Gaffer variables in its environment.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/engine/logger.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import { openPgliteStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/store.js';

const BIN = resolve('bin/gaffer.js');
// dist/ is compiled by test/helpers/global-setup.ts when stale.

/** The environment of a shell that has never heard of Gaffer (and sets no colour preference). */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('GAFFER_') || k === 'NO_COLOR' || k === 'FORCE_COLOR' || k.startsWith('VITEST'))
      continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

interface Ran {
  out: string;
  err: string;
  code: number | null;
}

function gaffer(cwd: string, args: string[], env = cleanEnv()): Promise<Ran> {
  return new Promise((done) => {
    execFile(process.execPath, [BIN, ...args], { cwd, env, timeout: 60_000 }, (err, out, errOut) => {
      done({ out, err: errOut, code: err ? ((err as { code?: number }).code ?? 1) : 0 });
    });
  });
}

async function until(check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((r) => child.once('exit', (code) => r(code)));
}

describe('the gaffer bin from a project of its own', { timeout: 120_000 }, () => {
  let dir: string;
  let store: Store;
  let server: RunningServer;
  let url: string;

  beforeAll(async () => {
    // A CommonJS project (no "type": "module") with a TypeScript handlers file.
    dir = await mkdtemp(join(tmpdir(), 'gaffer-newcomer-'));
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'newcomer', private: true }));
    await writeFile(
      join(dir, 'handlers.ts'),
      `interface Sum { a: number; b: number }
export default {
  'newcomer.add': async (p: Sum) => ({ sum: p.a + p.b }),
};
`,
    );
    store = await openPgliteStore();
    server = await startServer({ store, port: 0, logger: silentLogger, maintenance: false });
    url = server.url;
  });
  afterAll(async () => {
    await server.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('gaffer worker handlers.ts runs a .ts file of a CommonJS project without --machine', async () => {
    const child = spawn(process.execPath, [BIN, 'worker', 'handlers.ts', '--url', url], {
      cwd: dir,
      env: cleanEnv(),
    });
    let err = '';
    child.stderr.on('data', (d) => {
      err += String(d);
    });
    const code = exited(child);
    await until(async () => err.includes('running newcomer.add') || child.exitCode !== null);
    expect(err).toContain('running newcomer.add');
    const [w] = await store.listWorkers({});
    expect(w?.machineId).toBe(hostname());
    await store.createTasks({ tasks: [{ type: 'newcomer.add', id: 'add-1', payload: { a: 2, b: 3 } }] });
    await until(async () => (await store.getTask('add-1')).status === 'completed');
    expect((await store.getTask('add-1')).result).toEqual({ sum: 5 });
    child.kill('SIGTERM');
    expect(await code).toBe(0);
    expect(err).toContain('processed 1, completed 1, failed 0');
    expect(await store.listWorkers({})).toEqual([]);
  });

  it('a refused `gaffer worker N <session>` exits 1 and leaves no live worker behind', async () => {
    const r = await gaffer(dir, [
      'worker',
      '3',
      'no-such-session',
      '--handlers',
      'handlers.ts',
      '--url',
      url,
      '--machine',
      'phantom-box',
    ]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('error (not_found)');
    expect(await store.listWorkers({ machineId: 'phantom-box' })).toEqual([]);
  });

  it('--url accepts the API base itself (http://host/api/v1) without doubling the path', async () => {
    for (const u of [url, `${url}/`, `${url}/api/v1`, `${url}/api/v1/`]) {
      const r = await gaffer(dir, ['stats', '--url', u, '--json']);
      expect(r.code, `${u}: ${r.err}`).toBe(0);
      expect(JSON.parse(r.out)).toHaveProperty('counts');
    }
  });

  it('colours only on a terminal: none through a pipe or with NO_COLOR; FORCE_COLOR turns them on', async () => {
    const plain = await gaffer(dir, ['workers', '--stale', '--url', url]);
    const forced = await gaffer(dir, ['stats', '--url', url], cleanEnv({ FORCE_COLOR: '1' }));
    const both = await gaffer(dir, ['stats', '--url', url], cleanEnv({ FORCE_COLOR: '1', NO_COLOR: '1' }));
    expect(plain.code).toBe(0);
    expect(plain.out).not.toContain('\x1b[');
    expect(forced.out).toContain('\x1b[');
    expect(both.out).not.toContain('\x1b[');
    expect(both.out).toContain('queued');
  });

  it('`gaffer tasks | head` ends quietly when the reader goes away (no EPIPE trace)', async () => {
    await store.createTasks({
      tasks: Array.from({ length: 1000 }, (_, i) => ({
        type: 'newcomer.pipe',
        queue: 'pipeq',
        payload: { i },
      })),
    });
    const child = spawn(process.execPath, [BIN, 'tasks', '--queue', 'pipeq', '-n', '1000', '--url', url], {
      cwd: dir,
      env: cleanEnv(),
    });
    let err = '';
    child.stderr.on('data', (d) => {
      err += String(d);
    });
    const code = exited(child);
    // Read the first chunk, as `head -n 1` does, then hang up.
    await new Promise<void>((r) => child.stdout.once('data', () => r()));
    child.stdout.destroy();
    expect(await code).toBe(0);
    expect(err).toBe('');
  });

  it('--json: lists are {items, nextCursor}, one thing is named, actions count, errors are JSON', async () => {
    await store.createTasks({ tasks: [{ type: 'newcomer.json', id: 'json-1', maxAttempts: 1 }] });
    const j = async (...args: string[]) => {
      const r = await gaffer(dir, [...args, '--url', url, '--json']);
      return { code: r.code, out: r.out ? JSON.parse(r.out) : null, err: r.err };
    };
    for (const list of [['tasks'], ['failed'], ['sessions'], ['workers']]) {
      const r = await j(...list);
      expect(r.code).toBe(0);
      expect(Object.keys(r.out).sort(), list[0]).toEqual(['items', 'nextCursor']);
      expect(Array.isArray(r.out.items)).toBe(true);
    }
    expect(Object.keys((await j('task', 'json-1')).out).sort()).toEqual(['events', 'task', 'waitingOn']);
    expect((await j('enqueue', 'newcomer.json', '{"x":1}')).out.task.type).toBe('newcomer.json');
    const cancelled = (await j('cancel', 'json-1')).out;
    expect(cancelled).toMatchObject({
      matched: 1,
      changed: 1,
      items: [{ id: 'json-1', status: 'cancelled' }],
    });
    expect((await j('delete', 'task', 'json-1')).out).toEqual({ matched: 1, changed: 1, items: [] });
    const missing = await j('task', 'json-1');
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.err)).toMatchObject({ error: { code: 'not_found' } });
  });
});
