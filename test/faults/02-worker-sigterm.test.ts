import { afterAll, describe, expect, it } from 'vitest';
import { report, secs } from './helpers/figures.js';
import { checkExecutions } from './helpers/ledger.js';
import { adminQuery } from './helpers/pg.js';
import { PgScenario } from './helpers/scenario.js';
import { until } from './helpers/wait.js';

// A long lease, so a hand-back (under a second) cannot be mistaken for a lease expiry.
const LEASE_MS = 10_000;
const GRACE_MS = 8000;
// Longer than worker B takes to start (a node process: 1–2 s on a busy machine), so A's first five are
// still running when it gets SIGTERM and its 20 prefetched are all unstarted; shorter than the grace.
const HANDLER_MS = 4000;

describe('2. SIGTERM a worker', () => {
  const s = new PgScenario('s2', { leaseMs: LEASE_MS, staleAfterMs: 30_000, sweepIntervalMs: 200 });
  afterAll(() => s.cleanup());

  it('stops claiming, finishes in-flight work, hands back unstarted tasks at once; zero duplicates', async () => {
    await s.open();
    const queue = 'q2';
    const { tasks } = await s.store.createTasks({
      tasks: Array.from({ length: 25 }, (_, i) => ({ type: 'sleep', queue, payload: { ms: HANDLER_MS, i } })),
    });
    const ids = new Set(tasks.map((t) => t.id));

    const a = s.spawnWorker({
      queue,
      concurrency: 5,
      prefetch: 20,
      handleSignals: true,
      shutdownGraceMs: GRACE_MS,
    });
    const aId = (await a.ready()).workerId as string;
    await until(
      async () => (await s.store.countTasks({ workerId: aId, status: 'running' })).running === 25,
      15_000,
      'A holds 25',
    );
    await until(
      () => s.ledger().filter((e) => e.pid === a.pid && e.phase === 'S').length === 5,
      15_000,
      'A runs 5',
    );
    const inFlight = new Set(
      s
        .ledger()
        .filter((e) => e.pid === a.pid && e.phase === 'S')
        .map((e) => e.taskId),
    );

    const b = s.spawnWorker({ queue, concurrency: 20, sleepMs: 50 });
    await b.ready();

    a.kill('SIGTERM');
    const sigtermAt = (await a.waitFor((e) => e.ev === 'sigterm', 5000)).at as number;
    const exit = await a.exited;
    const stopped = a.events.find((e) => e.ev === 'stopped');
    await until(async () => (await s.counts(queue)).completed === 25, 20_000, 'all 25 completed');

    const ledger = s.ledger().filter((e) => ids.has(e.taskId));
    const exec = checkExecutions(ledger);
    const aStartsAfter = ledger.filter((e) => e.pid === a.pid && e.phase === 'S' && e.at > sigtermAt).length;
    const aFinished = ledger.filter(
      (e) => e.pid === a.pid && e.phase === 'D' && inFlight.has(e.taskId),
    ).length;
    const handedBackStarts = ledger.filter(
      (e) => e.pid === b.pid && e.phase === 'S' && !inFlight.has(e.taskId),
    );
    const reclaimMs = Math.max(...handedBackStarts.map((e) => e.at - sigtermAt));
    const events = await adminQuery<{ kind: string; n: number }>(
      `select kind, count(*)::int as n from ${s.schema}.task_events where kind in ('handed_back', 'lease_lost') group by kind`,
    );
    const handedBack = events.find((e) => e.kind === 'handed_back')?.n ?? 0;
    const leaseLost = events.find((e) => e.kind === 'lease_lost')?.n ?? 0;
    const exitMs = (stopped?.at as number) - sigtermAt;
    const pass =
      exec.duplicatedTasks.length === 0 &&
      aStartsAfter === 0 &&
      aFinished === inFlight.size &&
      handedBack === 20 &&
      leaseLost === 0 &&
      handedBackStarts.length === 20 &&
      reclaimMs < 1000 &&
      exit.code === 0 &&
      exitMs < GRACE_MS;
    report({
      id: '2',
      title: 'SIGTERM a worker (5 running, 20 prefetched)',
      store: 'postgres',
      figures: {
        duplicates: exec.duplicatedTasks.length,
        'in-flight finished': `${aFinished}/${inFlight.size}`,
        'handed back': handedBack,
        're-claimed within s': secs(reclaimMs),
        'worker exit s': secs(exitMs),
        'lease expiries': leaseLost,
      },
      bound: `hand-backs re-claimed < 1 s (lease ${LEASE_MS / 1000} s); in-flight finished in the ${GRACE_MS / 1000} s grace; 0 duplicates`,
      pass,
    });
    expect(exec.duplicatedTasks).toEqual([]);
    expect(aStartsAfter).toBe(0);
    expect(aFinished).toBe(inFlight.size);
    expect(handedBack).toBe(20);
    expect(leaseLost).toBe(0);
    expect(handedBackStarts).toHaveLength(20);
    expect(reclaimMs).toBeLessThan(1000);
    expect(exit.code).toBe(0);
    expect(exitMs).toBeLessThan(GRACE_MS);
    expect(stopped?.completed).toBe(5);
  });
});
