import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { sleep } from './types.js';

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

/** `node bin/gaffer.js serve --no-auth` on a database, on a free loopback port, as a user starts it. */
export class GafferServer {
  private constructor(
    readonly url: string,
    private readonly proc: ChildProcess,
  ) {}

  get pid(): number | undefined {
    return this.proc.pid;
  }

  static async start(databaseUrl: string): Promise<GafferServer> {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const proc = spawn(
      process.execPath,
      [
        BIN,
        'serve',
        '--database-url',
        databaseUrl,
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--no-auth',
      ],
      { stdio: 'ignore', env: { ...process.env, BENCH_CONFIG: '' } },
    );
    try {
      await waitHealthy(url, proc);
    } catch (err) {
      proc.kill('SIGKILL');
      throw err;
    }
    return new GafferServer(url, proc);
  }

  /** SIGTERM, then SIGKILL after 10 s. */
  async stop(): Promise<void> {
    const proc = this.proc;
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}
