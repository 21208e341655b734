import type { SystemDriver } from '../systems/driver.js';
import { Child } from './ipc.js';
import type { BenchConfig } from './types.js';
import type { WorkerHandle } from './worker-handle.js';

/** The system's worker in a child process of its own (bench/worker-main.ts). */
export class ChildWorker implements WorkerHandle {
  private constructor(private readonly child: Child) {}

  get pid(): number {
    return this.child.pid ?? 0;
  }

  /** The system's worker in a child; with `fleet`, that many workers of its fleet in one child. */
  static async start(driver: SystemDriver, cfg: BenchConfig, fleet?: number): Promise<ChildWorker> {
    const child = new Child('worker-main.ts', [driver.name], {
      ...driver.childEnv?.(),
      BENCH_CONFIG: JSON.stringify(cfg),
      ...(fleet === undefined ? {} : { BENCH_FLEET: String(fleet) }),
    });
    await child.ready;
    return new ChildWorker(child);
  }

  go(): Promise<void> {
    return this.child.call('go');
  }

  handled(n: number, timeoutMs: number): Promise<number> {
    return this.child.call('handled', { n, timeoutMs });
  }

  latencies(): Promise<number[]> {
    return this.child.call('latencies');
  }

  close(): Promise<void> {
    return this.child.close();
  }
}
