import type { Sample, ScenarioName } from '../lib/types.js';
import type { ScenarioContext } from './context.js';
import { drain } from './drain.js';
import { bulkEnqueue, singleEnqueue } from './enqueue.js';
import { mixed, pickup } from './latency.js';

export type { ScenarioContext } from './context.js';

const RUNNERS: Record<ScenarioName, (ctx: ScenarioContext) => Promise<Sample>> = {
  bulk_enqueue: bulkEnqueue,
  single_enqueue: singleEnqueue,
  drain,
  pickup,
  mixed,
};

export function runScenario(name: ScenarioName, ctx: ScenarioContext): Promise<Sample> {
  return RUNNERS[name](ctx);
}
