import type { ServerFixtureConfig } from '../fixtures/server.js';
import { faultsUrl } from './pg.js';
import { Fixture } from './procs.js';
import type { PgScenario } from './scenario.js';

/** A Gaffer server node process on the scenario's schema; resolves once it listens. */
export async function spawnServer(
  s: PgScenario,
  over: Partial<ServerFixtureConfig> & { sweepIntervalMs: number },
): Promise<{ fixture: Fixture; url: string }> {
  const fixture = new Fixture('server', {
    databaseUrl: faultsUrl(),
    schema: s.schema,
    applicationName: `${s.appName}-srv`,
    leaseMs: s.opts.leaseMs,
    staleAfterMs: s.opts.staleAfterMs,
    ...over,
  } satisfies ServerFixtureConfig);
  s.fixtures.push(fixture);
  const ready = await fixture.ready(60_000);
  return { fixture, url: ready.url as string };
}
