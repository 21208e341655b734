// The examples and test/cli/newcomer.test.ts import the package by its name (@gafferhq/gaffer resolves
// to dist/ through package.json's exports, as in a user's project), so dist/ must be current: it is
// compiled here when it is missing or older than src/.
import { execSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function newest(dir: string): number {
  let t = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    t = Math.max(t, s.isDirectory() ? newest(p) : s.mtimeMs);
  }
  return t;
}

export default function setup(): void {
  const built = join('dist', 'index.js');
  if (existsSync(built) && statSync(built).mtimeMs >= newest('src')) return;
  process.stderr.write('dist/ is missing or older than src/: compiling it (tsc -p tsconfig.build.json)\n');
  execSync('npx tsc -p tsconfig.build.json && node scripts/copy-assets.mjs', { stdio: 'inherit' });
}
