import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface Request {
  id: number;
  op: string;
  arg?: unknown;
}
export type Response = { id: number; ok: true; value?: unknown } | { id: number; ok: false; error: string };

/**
 * A forked TypeScript child (run through tsx) answering requests over IPC.
 * BENCH_CHILD_NODE_ARGS adds node flags to it, e.g. "--cpu-prof --cpu-prof-dir=prof".
 */
export class Child {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly proc: ChildProcess;
  private exited = false;
  readonly ready: Promise<void>;

  constructor(script: string, args: string[], env: Record<string, string>) {
    const extra = (process.env.BENCH_CHILD_NODE_ARGS ?? '').split(' ').filter(Boolean);
    this.proc = fork(fileURLToPath(new URL(`../${script}`, import.meta.url)), args, {
      execArgv: ['--import', 'tsx', ...extra],
      env: { ...process.env, ...env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.ready = new Promise((resolve, reject) => {
      this.proc.once('message', (m) =>
        (m as { op?: string }).op === 'ready' ? resolve() : reject(new Error(String(m))),
      );
      this.proc.once('exit', (code) =>
        reject(new Error(`${script} exited with ${code} before it was ready`)),
      );
    });
    this.proc.on('message', (m) => {
      const r = m as Response;
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      if (r.ok) p.resolve(r.value);
      else p.reject(new Error(r.error));
    });
    this.proc.on('exit', (code) => {
      this.exited = true;
      for (const p of this.pending.values()) p.reject(new Error(`${script} exited with ${code}`));
      this.pending.clear();
    });
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  call<T>(op: string, arg?: unknown): Promise<T> {
    if (this.exited) return Promise.reject(new Error('the child has exited'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.send({ id, op, arg } satisfies Request);
    });
  }

  /** Asks the child to finish, then waits for it to exit (killing it after a grace period). */
  async close(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((r) => this.proc.once('exit', () => r()));
    await this.call('exit').catch(() => {});
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

/** The child's side: answers requests with the handlers given, and says it is ready. */
export function serve(handlers: Record<string, (arg: unknown) => Promise<unknown>>): void {
  process.on('message', async (m) => {
    const req = m as Request;
    try {
      if (req.op === 'exit') {
        await handlers.exit?.(req.arg);
        process.send!({ id: req.id, ok: true } satisfies Response, () => process.exit(0));
        return;
      }
      const fn = handlers[req.op];
      if (!fn) throw new Error(`unknown op ${req.op}`);
      const value = await fn(req.arg);
      process.send!({ id: req.id, ok: true, value } satisfies Response);
    } catch (err) {
      process.send!({
        id: req.id,
        ok: false,
        error: err instanceof Error ? err.message : String(err),
      } satisfies Response);
    }
  });
  process.send!({ op: 'ready' });
}
