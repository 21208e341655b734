/**
 * Child process hosting a whole scenario for an embedded system (gaffer-pglite):
 * store, producer and worker share this process, as they would in an app.
 */
import { serve } from './lib/ipc.js';
import type { BenchConfig, ScenarioName, SystemName } from './lib/types.js';
import { LocalWorker } from './lib/worker-handle.js';
import { runScenario } from './scenarios/index.js';
import { loadDriver } from './systems/driver.js';

const cfg = JSON.parse(process.env.BENCH_CONFIG ?? '{}') as BenchConfig;
const driver = await loadDriver(process.argv[2] as SystemName, cfg);

serve({
  run: (arg) =>
    runScenario(arg as ScenarioName, { cfg, driver, makeWorker: () => LocalWorker.prepare(driver) }),
  exit: () => driver.dispose(),
});
