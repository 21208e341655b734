import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const LOCK = join(tmpdir(), `gaffer-web-build-${createHash('sha1').update(ROOT).digest('hex').slice(0, 12)}`);
const STALE_LOCK_MS = 180_000;

/**
 * Builds the dashboard into web/dist when it is missing or older than web/src
 * (scripts/ensure-web.mjs decides). Test files run in parallel, so one builds under
 * a lock directory while the others wait, then find it fresh.
 */
export async function ensureDashboardBuilt(): Promise<void> {
  const deadline = Date.now() + STALE_LOCK_MS;
  for (;;) {
    try {
      mkdirSync(LOCK);
    } catch {
      const lock = statSync(LOCK, { throwIfNoEntry: false });
      // A lock older than any build is left by a crashed run.
      if (lock && Date.now() - lock.mtimeMs > STALE_LOCK_MS) rmSync(LOCK, { recursive: true, force: true });
      if (Date.now() > deadline)
        throw new Error('timed out waiting for another test file to build the dashboard');
      await new Promise((r) => setTimeout(r, 250));
      continue;
    }
    try {
      const res = spawnSync(process.execPath, [join(ROOT, 'scripts', 'ensure-web.mjs')], {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: STALE_LOCK_MS - 10_000,
      });
      if (res.status !== 0) throw new Error(`building the dashboard failed:\n${res.stdout}\n${res.stderr}`);
      return;
    } finally {
      rmSync(LOCK, { recursive: true, force: true });
    }
  }
}
