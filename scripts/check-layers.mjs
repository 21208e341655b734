// Dependencies point one way: core ← store ← engine ← client/worker/server ← cli.
// Fails when a file imports from a layer above its own, or when imports go round in a circle.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ORDER = ['core', 'store', 'engine', 'client', 'worker', 'server', 'cli'];
const RANK = { core: 0, store: 1, engine: 2, client: 3, worker: 3, server: 4, cli: 5 };
// client and worker are peers (the HTTP transport and backend share helpers).
const root = resolve('src');
const problems = [];

function layerOf(file) {
  const top = relative(root, file).split('/')[0];
  return ORDER.includes(top) ? top : null;
}

function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith('.ts')) check(p);
  }
}

/** Every file's relative imports (type-only ones too: a circle of types is still a circle to read). */
const graph = new Map();

function findCycles() {
  const state = new Map(); // 1: on the current path, 2: done
  const path = [];
  const visit = (file) => {
    state.set(file, 1);
    path.push(file);
    for (const dep of graph.get(file) ?? []) {
      if (!graph.has(dep)) continue;
      if (state.get(dep) === 1) {
        const circle = path
          .slice(path.indexOf(dep))
          .concat(dep)
          .map((f) => relative('.', f));
        problems.push(`import circle: ${circle.join(' → ')}`);
      } else if (!state.has(dep)) visit(dep);
    }
    path.pop();
    state.set(file, 2);
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
}

function check(file) {
  const deps = [];
  for (const m of readFileSync(file, 'utf8').matchAll(/from\s+'(\.[^']+)'/g)) {
    deps.push(resolve(dirname(file), m[1].replace(/\.js$/, '.ts')));
  }
  graph.set(file, deps);
  const from = layerOf(file);
  if (!from) return;
  const src = readFileSync(file, 'utf8');
  for (const m of src.matchAll(/from\s+'(\.[^']+)'/g)) {
    const target = resolve(dirname(file), m[1]);
    const to = layerOf(target);
    if (!to || to === from) continue;
    if (from === 'store' && file.includes('/conformance/')) continue;
    if (RANK[to] > RANK[from]) {
      problems.push(`${relative('.', file)} (${from}) imports ${m[1]} (${to})`);
    }
  }
  if (from === 'core' && /from\s+'(pg|@electric-sql\/pglite|fastify|node:fs)'/.test(src)) {
    problems.push(`${relative('.', file)}: core must not do I/O`);
  }
  const code = src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
  if (from !== 'store' && /\b(insert into|update \w+ set|delete from)\b/i.test(code)) {
    problems.push(`${relative('.', file)}: SQL outside src/store`);
  }
}

walk(root);
findCycles();
if (problems.length) {
  console.error(`layer check failed:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log('layer check: ok');
