import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { GafferClient } from '../../src/client/client.js';
import { HttpBackend } from '../../src/client/http-backend.js';
import { silentLogger } from '../../src/engine/logger.js';
import { HttpTransport } from '../../src/worker/http-transport.js';
import { Worker } from '../../src/worker/worker.js';
import { backendPids, Counter, dbUrl, dropDatabase, recreateDatabase } from '../lib/pg.js';
import { type BenchConfig, sleep } from '../lib/types.js';
import type { Handler, SystemDriver, WorkerSide } from './driver.js';
import { clientProducer, gafferVersions, gafferWorkerConfig, TASK_TYPE } from './gaffer.js';

const DATABASE = 'bench_gaffer_http';
/** How the worker child learns the URL of the server the parent started. */
const URL_ENV = 'BENCH_GAFFER_HTTP_URL';
const BIN = fileURLToPath(new URL('../../bin/gaffer.js', import.meta.url));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

async function waitHealthy(url: string, proc: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`gaffer serve exited with ${proc.exitCode}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) return;
    } catch {}
    await sleep(100);
  }
  throw new Error('gaffer serve did not become healthy within 60 s');
}

async function stopProcess(proc: ChildProcess | null): Promise<void> {
  if (!proc || proc.exitCode !== null) return;
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/**
 * The TypeScript Worker over the HTTP worker protocol through `gaffer serve` on
 * PostgreSQL (a process of its own, started fresh for every run); the producer
 * uses the HTTP client as well.
 */
export default function gafferHttp(cfg: BenchConfig): SystemDriver {
  const db = dbUrl(cfg.pgUrl, DATABASE);
  const workerCfg = gafferWorkerConfig(cfg);
  let server: ChildProcess | null = null;
  let url = process.env[URL_ENV] ?? '';
  return {
    name: 'gaffer-http',
    config: {
      transport: 'HttpTransport → gaffer serve (PostgreSQL)',
      ...workerCfg,
      server: 'node bin/gaffer.js serve --no-auth (default pool, logs at info to /dev/null)',
    },
    versions: gafferVersions(),
    async reset() {
      await stopProcess(server);
      server = null;
      await recreateDatabase(cfg.pgUrl, DATABASE);
      const port = await freePort();
      url = `http://127.0.0.1:${port}`;
      server = spawn(
        process.execPath,
        [BIN, 'serve', '--database-url', db, '--host', '127.0.0.1', '--port', String(port), '--no-auth'],
        { stdio: 'ignore', env: { ...process.env, BENCH_CONFIG: '' } },
      );
      await waitHealthy(url, server);
    },
    async producer() {
      const counter = new Counter(db, "select count(*) as n from gaffer.tasks where status = 'completed'");
      return clientProducer(
        new GafferClient(new HttpBackend({ url })),
        () => counter.count(),
        () => counter.close(),
      );
    },
    async worker(handler: Handler): Promise<WorkerSide> {
      const worker = new Worker({
        transport: new HttpTransport({ url }),
        ...workerCfg,
        logger: silentLogger,
      });
      worker.handle(TASK_TYPE, (payload) => handler(payload as never));
      return { start: () => worker.start(), stop: async () => void (await worker.stop()) };
    },
    childEnv: () => ({ [URL_ENV]: url }),
    storePids: async () => [
      ...(server?.pid ? [server.pid] : []),
      ...(await backendPids(cfg.pgUrl, DATABASE)),
    ],
    serverPid: () => server?.pid,
    async dispose() {
      await stopProcess(server);
      server = null;
      await dropDatabase(cfg.pgUrl, DATABASE);
    },
  };
}
