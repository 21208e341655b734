import type { SystemDriver, WorkerSide } from '../systems/driver.js';
import { now, type Payload } from './types.js';

/** A worker under test, in this process or a child; the scenarios see only this. */
export interface WorkerHandle {
  /** The process running the worker. */
  readonly pid: number;
  /** Starts claiming; resolves once started. */
  go(): Promise<void>;
  /** Resolves with the time the n-th handler call began; rejects after timeoutMs. */
  handled(n: number, timeoutMs: number): Promise<number>;
  /** Create-call-to-handler-start latencies (ms) of tasks whose payload carried `t`, then forgets them. */
  latencies(): Promise<number[]>;
  close(): Promise<void>;
}

/** Runs the system's worker in this process with the bench's no-op handler. */
export class LocalWorker implements WorkerHandle {
  readonly pid = process.pid;
  private hits = 0;
  private lat: number[] = [];
  private waiters: Array<{ n: number; resolve: (at: number) => void }> = [];
  private side: WorkerSide | null = null;

  /** The system's worker, or with `fleet` that many workers of its fleet (one handle for all). */
  static async prepare(driver: SystemDriver, fleet?: number): Promise<LocalWorker> {
    const w = new LocalWorker();
    const handler = (p: Payload) => w.onTask(p);
    if (fleet === undefined) w.side = await driver.worker(handler);
    else if (driver.fleet) w.side = await driver.fleet(fleet, handler);
    else throw new Error(`${driver.name} has no fleet`);
    return w;
  }

  private onTask(p: Payload): void {
    const at = now();
    this.hits++;
    if (p.t !== undefined) this.lat.push(at - p.t);
    if (this.waiters.length === 0) return;
    const ready = this.waiters.filter((w) => this.hits >= w.n);
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((w) => this.hits < w.n);
    for (const w of ready) w.resolve(at);
  }

  async go(): Promise<void> {
    await this.side!.start();
  }

  handled(n: number, timeoutMs: number): Promise<number> {
    if (this.hits >= n) return Promise.resolve(now());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`only ${this.hits} of ${n} tasks were handled within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (at: number) => {
        clearTimeout(timer);
        resolve(at);
      };
      this.waiters.push({ n, resolve: done });
    });
  }

  async latencies(): Promise<number[]> {
    const out = this.lat;
    this.lat = [];
    return out;
  }

  async close(): Promise<void> {
    await this.side?.stop();
    this.side = null;
  }
}
