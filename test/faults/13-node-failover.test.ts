import { afterAll, describe, expect, it } from 'vitest';
import { report, secs } from './helpers/figures.js';
import type { Fixture } from './helpers/procs.js';
import { PgScenario } from './helpers/scenario.js';
import { spawnServer } from './helpers/server-node.js';
import { sleep, until } from './helpers/wait.js';

const SWEEP_MS = 500;
const RETENTION_MS = 3000;
const LEASE_MS = 3000;

describe('13. Server node failover', () => {
  const s = new PgScenario('s13', { leaseMs: 2000, staleAfterMs: 60_000, sweepIntervalMs: null });
  afterAll(() => s.cleanup());

  it('the surviving node takes over lease rescue and retention within two sweep intervals', async () => {
    await s.open();
    const nodes = await Promise.all(
      [0, 1].map(() =>
        spawnServer(s, {
          sweepIntervalMs: SWEEP_MS,
          retentionIntervalMs: SWEEP_MS,
          retentionMs: RETENTION_MS,
        }),
      ),
    );
    const sweeps = (f: Fixture, after = 0) =>
      f.events.filter((e) => e.ev === 'sweep' && (e.at as number) > after);
    await until(() => nodes.some((n) => sweeps(n.fixture).length > 0), 15_000, 'maintenance running');

    // Work that needs maintenance shortly after the kill: a lease lapsing, a finished task aging out.
    const queue = 'q13';
    const worker = await s.store.registerWorker({ machineId: 'f13', types: ['sleep'], queues: [queue] });
    const [old, leased] = (
      await s.store.createTasks({
        tasks: [
          { type: 'sleep', queue, priority: 1 },
          { type: 'sleep', queue, backoff: { baseMs: 100, jitter: 1 } },
        ],
      })
    ).tasks;
    const [first] = await s.store.claimTasks({ workerId: worker.id, queues: [queue], limit: 1 });
    expect(first!.id).toBe(old!.id);
    await s.store.completeTasks([{ taskId: old!.id, attempt: 1, workerId: worker.id, result: null }]);
    const [held] = await s.store.claimTasks({
      workerId: worker.id,
      queues: [queue],
      limit: 1,
      leaseMs: LEASE_MS,
    });
    expect(held!.id).toBe(leased!.id);
    const finished = (await s.store.getTask(old!.id)).finishedAt!.getTime();

    // Kill the node that ran the last maintenance round, a second before both are due.
    await sleep(Math.max(0, held!.leaseExpiresAt!.getTime() - Date.now() - 1000));
    const last = (n: (typeof nodes)[number]) => Math.max(0, ...sweeps(n.fixture).map((e) => e.at as number));
    const [victim, survivor] =
      last(nodes[0]!) >= last(nodes[1]!) ? [nodes[0]!, nodes[1]!] : [nodes[1]!, nodes[0]!];
    const roundsBefore = nodes.map((n) => sweeps(n.fixture).length);
    const killedAt = Date.now();
    victim.fixture.kill('SIGKILL');
    await victim.fixture.exited;

    const rescued = await until(
      async () => (await s.store.getTaskEvents(leased!.id)).find((e) => e.kind === 'lease_lost'),
      15_000,
      'lease rescued',
      25,
    );
    const rescueDelayMs = rescued.at.getTime() - held!.leaseExpiresAt!.getTime();
    const prunedAt = await until(
      async () => ((await s.store.findTask(old!.id)) ? null : Date.now()),
      15_000,
      'pruned',
      25,
    );
    const pruneDelayMs = prunedAt - (finished + RETENTION_MS);
    const survivorRounds = sweeps(survivor.fixture, killedAt).length;
    const bound = 2 * SWEEP_MS;
    const pass = rescueDelayMs <= bound && pruneDelayMs <= bound + 50 && survivorRounds > 0;
    report({
      id: '13',
      title: 'Two server nodes on one schema; SIGKILL the one that ran the last maintenance round',
      store: 'postgres',
      figures: {
        'rounds won before kill (killed/survivor)': `${roundsBefore[nodes.indexOf(victim)]}/${roundsBefore[nodes.indexOf(survivor)]}`,
        'lease rescued after expiry s': secs(rescueDelayMs),
        'pruned after due s': secs(pruneDelayMs),
        'sweep interval s': secs(SWEEP_MS),
      },
      bound: `rescue and retention by the survivor ≤ 2 sweep intervals (${secs(bound)} s) after they are due`,
      pass,
    });
    expect(survivorRounds).toBeGreaterThan(0);
    expect(rescueDelayMs).toBeLessThanOrEqual(bound);
    expect(pruneDelayMs).toBeLessThanOrEqual(bound + 50); // + the 25 ms polling of this test
  });
});
