/**
 * The one conformance suite every Store driver must pass (SPEC R8.3). A driver's test
 * file calls runStoreConformance with a factory; the suite opens ONE store for the
 * whole run and keeps tests independent by giving each its own queue, task types,
 * ids and workers, and by asserting only on what the test created. Time never passes
 * by sleeping: time-dependent operations get an explicit `now`.
 */
import { afterAll, beforeAll, describe } from 'vitest';
import type { Store, StoreOptions } from '../store.js';
import { cancelTests } from './cancel.js';
import { childrenTests } from './children.js';
import { claimTests } from './claim.js';
import { claimTypeTests } from './claim-types.js';
import { countTests } from './counts.js';
import { createTests } from './create.js';
import { dependencyTests } from './dependencies.js';
import { entryTests } from './entries.js';
import { flowTests } from './flow.js';
import { flowCostTests } from './flow-cost.js';
import { flowKeyTests } from './flow-keys.js';
import { flowWakeTests } from './flow-wakes.js';
import type { ConformanceContext } from './helpers.js';
import { idempotencyTtlTests } from './idempotency-ttl.js';
import { leaseTests } from './leases.js';
import { maintenanceTests } from './maintenance.js';
import { optionsTests } from './options.js';
import { rateLimitedTests } from './rate-limited.js';
import { retentionTests } from './retention.js';
import { retryTests } from './retries.js';
import { scheduleTests } from './schedules.js';
import { sessionTests } from './sessions.js';
import { tokenTests } from './tokens.js';
import { transitionTests } from './transitions.js';
import { waitingOnTests } from './waiting-on.js';
import { workerPageTests } from './worker-pages.js';
import { workerTests } from './workers.js';

export type { ConformanceContext } from './helpers.js';

export function runStoreConformance(
  name: string,
  makeStore: (opts?: Partial<StoreOptions>) => Promise<Store>,
  dropStore: (store: Store) => Promise<void>,
): void {
  describe(`Store conformance: ${name}`, () => {
    let store: Store | undefined;
    // A store that cannot open (e.g. PostgreSQL unreachable) fails every test with the
    // reason, instead of failing the hook and leaving the tests reported as skipped.
    let openError: unknown;

    beforeAll(async () => {
      try {
        store = await makeStore();
      } catch (err) {
        openError = err;
      }
    });

    afterAll(async () => {
      if (store) await dropStore(store);
    });

    const ctx: ConformanceContext = {
      store() {
        if (!store)
          throw new Error(`the ${name} store did not open: ${String(openError)}`, { cause: openError });
        return store;
      },
      makeStore,
      dropStore,
    };

    createTests(ctx);
    flowKeyTests(ctx);
    claimTests(ctx);
    claimTypeTests(ctx);
    leaseTests(ctx);
    rateLimitedTests(ctx);
    retryTests(ctx);
    cancelTests(ctx);
    transitionTests(ctx);
    sessionTests(ctx);
    entryTests(ctx);
    workerTests(ctx);
    waitingOnTests(ctx);
    maintenanceTests(ctx);
    optionsTests(ctx);
    tokenTests(ctx);
    countTests(ctx);
    workerPageTests(ctx);
    retentionTests(ctx);
    dependencyTests(ctx);
    childrenTests(ctx);
    scheduleTests(ctx);
    idempotencyTtlTests(ctx);
    flowTests(ctx);
    flowCostTests(ctx);
    flowWakeTests(ctx);
  });
}
