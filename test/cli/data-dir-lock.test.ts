import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Issue 17, item 15: the embedded store's single writer. Everything runs as a user runs it:
 * `gaffer serve` and `gaffer token ...` as child processes on one data directory.
 */
const run = promisify(execFile);
const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const ENV: NodeJS.ProcessEnv = { ...process.env, GAFFER_LOG_LEVEL: 'silent', NO_COLOR: '1' };
for (const k of ['GAFFER_URL', 'GAFFER_TOKEN', 'GAFFER_DATABASE_URL', 'GAFFER_DATA_DIR']) delete ENV[k];

async function gaffer(...args: string[]): Promise<{ out: string; err: string; code: number }> {
  try {
    const r = await run(process.execPath, [...CLI, ...args], { env: ENV, timeout: 90_000 });
    return { out: r.stdout, err: r.stderr, code: 0 };
  } catch (e) {
    const x = e as { stdout: string; stderr: string; code: number };
    return { out: x.stdout, err: x.stderr, code: x.code };
  }
}

/** Starts `gaffer serve` on dir; resolves with its URL once it listens. */
function serve(dir: string): Promise<{ child: ChildProcess; url: string; stderr: () => string }> {
  const child = spawn(process.execPath, [...CLI, 'serve', '--data-dir', dir, '--port', '0'], { env: ENV });
  let err = '';
  child.stderr.on('data', (d) => {
    err += String(d);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gaffer serve did not start: ${err}`)), 90_000);
    child.stderr.on('data', () => {
      const m = /dashboard\s+(http:\/\/\S+?)\/\s/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]!, stderr: () => err });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gaffer serve exited with ${code}: ${err}`));
    });
  });
}

// Each CLI run starts Node with tsx and opens PGlite: seconds each on a loaded machine.
describe('one data directory, one writer', { timeout: 240_000 }, () => {
  let dir: string;
  let server: { child: ChildProcess; url: string; stderr: () => string };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gaffer-lock-'));
    server = await serve(dir);
  }, 120_000);
  afterAll(async () => {
    if (server && server.child.exitCode === null && server.child.signalCode === null) {
      const exited = new Promise((r) => server.child.once('exit', r));
      server.child.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('the running server holds a lock naming its pid and URL', () => {
    const lock = JSON.parse(readFileSync(join(dir, 'gaffer.lock'), 'utf8'));
    expect(lock).toMatchObject({ pid: server.child.pid, url: server.url, command: 'gaffer serve' });
  });

  it('`gaffer token create` on the same data directory goes through the server, and works', async () => {
    const r = await gaffer(
      'token',
      'create',
      '--role',
      'admin',
      '--name',
      'ops',
      '--data-dir',
      dir,
      '--json',
    );
    expect(r.err).toContain(`the server at ${server.url} (process ${server.child.pid}) owns`);
    expect(r.code).toBe(0);
    const made = JSON.parse(r.out) as { token: { id: string }; secret: string };
    const admin = { id: made.token.id, token: made.secret };
    expect(admin.token).toMatch(/^gaffer_/);
    const res = await fetch(`${server.url}/api/v1/tasks`, {
      headers: { authorization: `Bearer ${admin.token}` },
    });
    expect(res.status).toBe(200);
    expect((await fetch(`${server.url}/api/v1/tasks`)).status).toBe(401);

    // Auth is on now: the next admin command needs the token, and says so.
    const anon = await gaffer('token', 'list', '--data-dir', dir);
    expect(anon.code).toBe(1);
    expect(anon.err).toMatch(/unauthorized.*--token/);

    // Scoped worker tokens (item 10) and the last admin token (item 8) from the CLI.
    const scoped = await gaffer(
      'token',
      'create',
      '--role',
      'worker',
      '--queues',
      'qa,qb',
      '--types',
      'x',
      '--data-dir',
      dir,
      '--token',
      admin.token,
      '--json',
    );
    expect(scoped.code).toBe(0);
    expect(JSON.parse(scoped.out).token).toMatchObject({
      role: 'worker',
      queues: ['qa', 'qb'],
      types: ['x'],
    });
    const last = await gaffer('token', 'revoke', admin.id, '--data-dir', dir, '--token', admin.token);
    expect(last.code).toBe(1);
    expect(last.err).toMatch(/error \(conflict\): .*last active admin token.*--force/);
    const list = await gaffer('token', 'list', '--data-dir', dir, '--token', admin.token, '--json');
    const items = (JSON.parse(list.out) as { items: Array<{ id: string; revokedAt: string | null }> }).items;
    expect(items.find((t) => t.id === admin.id)).toMatchObject({ revokedAt: null });
  });

  it('a second `gaffer serve` on the same directory fails, naming the owner', async () => {
    const second = await gaffer('serve', '--data-dir', dir, '--port', '0');
    expect(second.code).toBe(1);
    expect(second.err).toContain(`is in use by process ${server.child.pid}`);
    expect(second.err).toContain(server.url);
    // The first server is untouched.
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('a lock left by a killed server is stale: the next command opens the store itself', async () => {
    const exited = new Promise((r) => server.child.once('exit', r));
    server.child.kill('SIGKILL');
    await exited;
    expect(existsSync(join(dir, 'gaffer.lock'))).toBe(true);
    const r = await gaffer('token', 'list', '--data-dir', dir, '--json');
    expect(r.err).not.toContain('going through');
    expect(r.code).toBe(0);
    expect((JSON.parse(r.out) as { items: unknown[] }).items).toHaveLength(2);
    // It released the lock when it was done.
    expect(existsSync(join(dir, 'gaffer.lock'))).toBe(false);
  });
});
