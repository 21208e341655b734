import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');

export interface FixtureEvent {
  ev: string;
  [k: string]: unknown;
}

/**
 * A fixture running as its own Node process (`node --import tsx fixtures/<name>.ts`),
 * configured by the FAULT_CONFIG environment variable. It reports with JSON lines on
 * stdout; pipes are synchronous on Linux, so a line written before a SIGKILL arrives.
 */
export class Fixture {
  readonly child: ChildProcess;
  readonly events: FixtureEvent[] = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private waiters: Array<() => void> = [];
  private partial = '';
  exitCode: number | null | undefined = undefined;

  constructor(
    readonly name: string,
    config: unknown,
    extraEnv: Record<string, string> = {},
  ) {
    this.child = spawn(process.execPath, ['--import', 'tsx', join(FIXTURES, `${name}.ts`)], {
      env: { ...process.env, GAFFER_LOG_LEVEL: 'warn', ...extraEnv, FAULT_CONFIG: JSON.stringify(config) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (chunk: string) => {
      const lines = (this.partial + chunk).split('\n');
      this.partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.startsWith('{')) continue;
        try {
          this.events.push(JSON.parse(line) as FixtureEvent);
        } catch {
          // not one of ours
        }
      }
      this.notify();
    });
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-20_000);
    });
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exitCode = code;
        resolve({ code, signal });
        this.notify();
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.exitCode === undefined;
  }

  private notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves with the first event (past or future) matching `pred`. */
  async waitFor(pred: (e: FixtureEvent) => boolean, timeoutMs = 30_000): Promise<FixtureEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.events.find(pred);
      if (hit) return hit;
      if (!this.alive) {
        throw new Error(
          `fixture ${this.name} (pid ${this.pid}) exited (${this.exitCode}) before the event; stderr:\n${this.stderr}`,
        );
      }
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `fixture ${this.name}: event not seen within ${timeoutMs} ms; stderr:\n${this.stderr}`,
        );
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 500));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  ready(timeoutMs = 30_000): Promise<FixtureEvent> {
    return this.waitFor((e) => e.ev === 'ready', timeoutMs);
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.alive) this.child.kill(signal);
  }

  /** Kills (SIGKILL) if still running and waits for the exit. */
  async stop(): Promise<void> {
    this.kill('SIGKILL');
    await this.exited;
  }
}

export async function stopAll(list: Fixture[]): Promise<void> {
  await Promise.all(list.map((f) => f.stop()));
}
