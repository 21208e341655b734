import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WEB = join(ROOT, 'web');
const LOCK = join(tmpdir(), `gaffer-web-build-${createHash('sha1').update(ROOT).digest('hex').slice(0, 12)}`);

function newestMtime(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const name of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, name)));
  return newest;
}

function isStale(): boolean {
  const index = join(WEB, 'dist', 'index.html');
  if (!existsSync(index)) return true;
  const built = statSync(index).mtimeMs;
  const sources = Math.max(
    newestMtime(join(WEB, 'src')),
    newestMtime(join(WEB, 'index.html')),
    newestMtime(join(WEB, 'vite.config.ts')),
  );
  return sources > built;
}

/**
 * Builds the dashboard into web/dist when it is missing or older than web/src. Test files
 * run in parallel, so one builds under a lock directory while the others wait for it.
 */
export async function ensureDashboardBuilt(): Promise<void> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (!isStale()) return;
    try {
      mkdirSync(LOCK);
    } catch {
      // another test file is building; a lock older than the deadline is a crashed build
      const lock = statSync(LOCK, { throwIfNoEntry: false });
      if (lock && Date.now() - lock.mtimeMs > 180_000) rmSync(LOCK, { recursive: true, force: true });
      if (Date.now() > deadline)
        throw new Error('timed out waiting for another process to build the dashboard');
      await new Promise((r) => setTimeout(r, 250));
      continue;
    }
    try {
      if (!isStale()) return;
      const vite = join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js');
      const res = spawnSync(
        process.execPath,
        [vite, 'build', '--config', 'web/vite.config.ts', '--logLevel', 'warn'],
        {
          cwd: ROOT,
          encoding: 'utf8',
          timeout: 170_000,
        },
      );
      if (res.status !== 0) throw new Error(`building the dashboard failed:\n${res.stdout}\n${res.stderr}`);
      return;
    } finally {
      rmSync(LOCK, { recursive: true, force: true });
    }
  }
}
