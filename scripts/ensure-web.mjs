// Builds the dashboard when web/dist is missing or older than its sources, so `npm start` always serves it.
import { execSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function newest(dir) {
  let t = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    t = Math.max(t, s.isDirectory() ? newest(p) : s.mtimeMs);
  }
  return t;
}

const built = 'web/dist/index.html';
const stale =
  !existsSync(built) ||
  statSync(built).mtimeMs < Math.max(newest('web/src'), statSync('web/index.html').mtimeMs);
if (stale) {
  console.error('building the dashboard (web/dist)…');
  execSync('npx vite build --config web/vite.config.ts --logLevel warn', { stdio: 'inherit' });
}
