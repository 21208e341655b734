import { spawn } from 'node:child_process';
import { GafferClient } from '../../src/client/client.js';
import { HttpBackend } from '../../src/client/http-backend.js';
import { silentLogger } from '../../src/engine/logger.js';
import { HttpTransport } from '../../src/worker/http-transport.js';
import { Worker } from '../../src/worker/worker.js';
import { recreateDatabase } from '../lib/pg.js';
import { percentile } from '../lib/stats.js';
const url = await recreateDatabase('postgres://postgres@127.0.0.1:5432/postgres', 'bench_hp');
const srv = spawn(process.execPath, ['bin/gaffer.js', 'serve', '--database-url', url, '--port', '7791', '--no-auth'], { stdio: 'ignore' });
const base = 'http://127.0.0.1:7791';
for (;;) { try { const r = await fetch(`${base}/healthz`); if (r.ok) break; } catch {} await new Promise((r) => setTimeout(r, 200)); }
const client = new GafferClient(new HttpBackend({ url: base }));
const created = new Map<number, number>(); const lat: number[] = []; const cr: number[] = [];
const w = new Worker({ transport: new HttpTransport({ url: base }), concurrency: 50, prefetch: 950, logger: silentLogger });
w.handle('noop', (p: { i: number }) => { lat.push(performance.now() - created.get(p.i)!); });
await w.start(); await new Promise((r) => setTimeout(r, 1000));
for (let i = 0; i < 300; i++) { const t = performance.now(); created.set(i, t); await client.enqueue('noop', { i }); cr.push(performance.now() - t); await new Promise((r) => setTimeout(r, 20)); }
await new Promise((r) => setTimeout(r, 500));
const f = (a: number[]) => [50, 90, 99].map((q) => percentile(a, q).toFixed(2)).join(' / ');
console.log('http create', f(cr)); console.log('pickup', f(lat));
await w.stop(); srv.kill('SIGTERM');
