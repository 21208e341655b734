import type { Sample, ScenarioName } from '../lib/types.js';
import type { SystemDriver } from '../systems/driver.js';
import type { ScenarioContext } from './context.js';
import { dag } from './dag.js';
import { drain } from './drain.js';
import { bulkEnqueue, singleEnqueue } from './enqueue.js';
import { idleFleet } from './fleet.js';
import { drainLimited, rateLimited } from './flow.js';
import { mixed, pickup } from './latency.js';
import { backlog, history, overview } from './scale.js';

export type { ScenarioContext } from './context.js';

const RUNNERS: Record<ScenarioName, (ctx: ScenarioContext) => Promise<Sample>> = {
  bulk_enqueue: bulkEnqueue,
  single_enqueue: singleEnqueue,
  drain,
  pickup,
  mixed,
  backlog,
  history,
  idle_fleet: idleFleet,
  overview,
  drain_limited: drainLimited,
  rate_limited: rateLimited,
  dag,
};

/** Whether a system takes part in a scenario: the scale ones need what they measure. */
export function supports(name: ScenarioName, driver: SystemDriver): boolean {
  switch (name) {
    case 'backlog':
    case 'history':
    case 'overview':
      return driver.scale !== undefined && !driver.inProcess;
    case 'drain_limited':
    case 'rate_limited':
      return driver.flow !== undefined;
    case 'dag':
      return driver.dag !== undefined;
    case 'idle_fleet':
      return driver.fleet !== undefined && driver.database !== undefined;
    default:
      return true;
  }
}

export function runScenario(name: ScenarioName, ctx: ScenarioContext): Promise<Sample> {
  return RUNNERS[name](ctx);
}
