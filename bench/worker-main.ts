/**
 * Child process running one system's worker with the no-op handler: the "one
 * worker process" of the scenarios. Started by ChildWorker; BENCH_CONFIG holds
 * the bench configuration and argv[2] the system; BENCH_FLEET=n runs n workers of
 * the system's fleet instead (idle_fleet).
 */
import { serve } from './lib/ipc.js';
import type { BenchConfig, SystemName } from './lib/types.js';
import { LocalWorker } from './lib/worker-handle.js';
import { loadDriver } from './systems/driver.js';

const cfg = JSON.parse(process.env.BENCH_CONFIG ?? '{}') as BenchConfig;
const name = process.argv[2] as SystemName;
const driver = await loadDriver(name, cfg);
const fleet = process.env.BENCH_FLEET ? Number(process.env.BENCH_FLEET) : undefined;
const worker = await LocalWorker.prepare(driver, fleet);

serve({
  go: () => worker.go(),
  handled: (arg) => {
    const { n, timeoutMs } = arg as { n: number; timeoutMs: number };
    return worker.handled(n, timeoutMs);
  },
  latencies: () => worker.latencies(),
  exit: () => worker.close(),
});
