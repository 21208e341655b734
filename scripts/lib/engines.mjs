import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Packages under dir whose engines.node refuses version, pushed to out. */
export function walkEngines(semver, dir, version, out) {
  for (const name of readdirSync(dir)) {
    if (name.startsWith('.')) continue;
    const p = join(dir, name);
    if (name.startsWith('@')) {
      walkEngines(semver, p, version, out);
      continue;
    }
    let pkg;
    try {
      pkg = JSON.parse(readFileSync(join(p, 'package.json'), 'utf8'));
    } catch {
      continue;
    }
    const range = pkg.engines?.node;
    if (range && !semver.satisfies(version, range)) out.push(`${pkg.name}@${pkg.version} (node ${range})`);
    try {
      walkEngines(semver, join(p, 'node_modules'), version, out);
    } catch {}
  }
}
