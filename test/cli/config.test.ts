import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Issue 17, item 16: every flag and environment value is checked against its range, and a wrong
// one is refused naming the flag (or variable) and the range, before anything starts.

const run = promisify(execFile);

interface Ran {
  code: number;
  out: string;
  err: string;
}

/** `gaffer <args>` as a child process, with no GAFFER_* variables but those given. */
async function gaffer(args: string[], env: Record<string, string> = {}): Promise<Ran> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GAFFER_')));
  try {
    const r = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      env: { ...clean, NO_COLOR: '1', ...env },
      // A flag that slipped through would start a server and never exit: the timeout fails the test.
      timeout: 90_000,
    });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const x = e as { stdout: string; stderr: string; code: number | null; killed?: boolean };
    return { code: x.killed ? -1 : (x.code ?? -1), out: x.stdout, err: x.stderr };
  }
}

describe('gaffer refuses out-of-range flags and environment values, naming them', () => {
  let dir: string;
  let file: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gaffer-config-'));
    file = join(dir, 'not-a-dir');
    await writeFile(file, 'x');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('serve: --lease-ms 0 and 1e12, GAFFER_LEASE_MS, --port, --stale-after-ms below the heartbeat, --data-dir of a file', async () => {
    const dataDir = join(dir, 'store');
    const cases: Array<[string[], Record<string, string>, RegExp]> = [
      [
        ['serve', '--lease-ms', '0', '--data-dir', dataDir],
        {},
        /option '--lease-ms <ms>' argument '0' is invalid\. must be a whole number from 1000 to 86400000/,
      ],
      [
        ['serve', '--lease-ms', '1e12', '--data-dir', dataDir],
        {},
        /'--lease-ms <ms>' argument '1e12' is invalid/,
      ],
      [
        ['serve', '--data-dir', dataDir],
        { GAFFER_LEASE_MS: '0' },
        /'--lease-ms <ms>' value '0' from env 'GAFFER_LEASE_MS' is invalid\. must be a whole number from 1000/,
      ],
      [
        ['serve', '--port', '70000', '--data-dir', dataDir],
        {},
        /'--port <port>' argument '70000' is invalid\. must be a whole number from 0 to 65535/,
      ],
      [
        ['serve', '--stale-after-ms', '2000', '--data-dir', dataDir],
        {},
        /--stale-after-ms 2000 must be longer than the heartbeat interval \(10000 ms/,
      ],
      [['serve', '--data-dir', file], {}, /--data-dir .*not-a-dir is a file, not a directory/],
      [
        ['serve', '--retention-days', 'soon', '--data-dir', dataDir],
        {},
        /'--retention-days <days>' argument 'soon'/,
      ],
    ];
    // Three at a time: the machine running the tests may be busy.
    const answers: Ran[] = [];
    for (let i = 0; i < cases.length; i += 3)
      answers.push(...(await Promise.all(cases.slice(i, i + 3).map(([args, env]) => gaffer(args, env)))));
    for (const [i, a] of answers.entries()) {
      const [args, env, expected] = cases[i]!;
      const what = `${Object.entries(env)
        .map(([k, v]) => `${k}=${v} `)
        .join('')}gaffer ${args.join(' ')}`;
      expect(a.code, `${what}: ${a.err}`).toBe(1);
      expect(a.err, what).toMatch(expected);
      expect(a.err, what).not.toContain('[object Object]');
      expect(a.err, what).not.toMatch(/\n\s+at /);
    }
  }, 300_000);

  it('worker: a non-numeric N is refused, not taken for the handlers file; --concurrency 0 is refused', async () => {
    const handlers = join(dir, 'handlers.mjs');
    await writeFile(handlers, 'export default { t: async () => 1 };\n');
    const [nonNumeric, zero, tooMany] = await Promise.all([
      gaffer(['worker', handlers, 'session-1', '--handlers', handlers, '--url', 'http://127.0.0.1:9']),
      gaffer(['worker', handlers, '--concurrency', '0', '--url', 'http://127.0.0.1:9']),
      gaffer(['worker', '1', 's', 'extra', '--handlers', handlers, '--url', 'http://127.0.0.1:9']),
    ]);
    expect(nonNumeric.code).toBe(1);
    expect(nonNumeric.err).toMatch(
      /N in `gaffer worker N <session>` must be an assignment index, a whole number from 0, not ".*handlers\.mjs"/,
    );
    expect(zero.code).toBe(1);
    expect(zero.err).toMatch(
      /'-c, --concurrency <n>' argument '0' is invalid\. must be a whole number from 1 to 10000/,
    );
    expect(tooMany.code).toBe(1);
    expect(tooMany.err).toMatch(/not 3 arguments/);
  }, 300_000);
});
