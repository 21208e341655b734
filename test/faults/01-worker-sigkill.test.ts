import { afterAll, describe, expect, it } from 'vitest';
import { report, secs } from './helpers/figures.js';
import { checkExecutions } from './helpers/ledger.js';
import { PgScenario } from './helpers/scenario.js';
import { until } from './helpers/wait.js';

const LEASE_MS = 2000;
const SWEEP_MS = 200;
const SLACK_MS = 3000;

describe('1. SIGKILL a worker holding 50 leased tasks while another runs', () => {
  const s = new PgScenario('s1', { leaseMs: LEASE_MS, staleAfterMs: 4000, sweepIntervalMs: SWEEP_MS });
  afterAll(() => s.cleanup());

  it('completes all 50 within lease + sweep + a few seconds; none lost; duplicates only among started', async () => {
    await s.open();
    const queue = 'q1';
    const { tasks } = await s.store.createTasks({
      tasks: Array.from({ length: 50 }, (_, i) => ({
        type: 'sleep',
        queue,
        payload: { ms: 50, i },
        backoff: { baseMs: 100, jitter: 1 },
      })),
    });
    const ids = new Set(tasks.map((t) => t.id));

    // Worker A: 10 running + 40 prefetched, handlers that would run for ten minutes.
    const a = s.spawnWorker({ queue, concurrency: 10, prefetch: 40, sleepMs: 600_000 });
    const aId = (await a.ready()).workerId as string;
    await until(
      async () => (await s.store.countTasks({ workerId: aId, status: 'running' })).running === 50,
      15_000,
      'A holds 50',
    );
    await until(
      () => s.ledger().filter((e) => e.pid === a.pid && e.phase === 'S').length === 10,
      15_000,
      'A runs 10',
    );
    const startedByA = new Set(
      s
        .ledger()
        .filter((e) => e.pid === a.pid && e.phase === 'S')
        .map((e) => e.taskId),
    );

    // Worker B is up and idle (everything is leased to A) when A dies.
    const b = s.spawnWorker({ queue, concurrency: 10, sleepMs: 50 });
    await b.ready();

    const killedAt = Date.now();
    a.kill('SIGKILL');
    await a.exited;
    const bound = LEASE_MS + SWEEP_MS + SLACK_MS;
    let recoveryMs = Number.NaN;
    try {
      await until(
        async () => (await s.counts(queue)).completed === 50,
        bound + 10_000,
        'all 50 completed',
        25,
      );
      recoveryMs = Date.now() - killedAt;
    } catch {
      // reported below
    }

    const final = await s.store.listTasks({ queue, limit: 100 });
    const lost = final.items.filter((t) => t.status !== 'completed').length;
    const exec = checkExecutions(s.ledger().filter((e) => ids.has(e.taskId)));
    const dupOutsideStarted = exec.duplicatedTasks.filter((id) => !startedByA.has(id));
    const pass =
      lost === 0 &&
      recoveryMs <= bound &&
      dupOutsideStarted.length === 0 &&
      exec.sameAttemptTwice.length === 0;
    report({
      id: '1',
      title: 'SIGKILL a worker holding 50 leases (10 running, 40 prefetched)',
      store: 'postgres',
      figures: {
        lost,
        duplicates: exec.duplicatedTasks.length,
        'started when killed': startedByA.size,
        'recovery s': secs(recoveryMs),
      },
      bound: `all 50 done ≤ ${secs(bound)} s (lease + sweep + ${SLACK_MS / 1000} s); lost 0; duplicates ⊆ started`,
      pass,
    });
    expect(lost).toBe(0);
    expect(exec.sameAttemptTwice).toEqual([]);
    expect(dupOutsideStarted).toEqual([]);
    expect(recoveryMs).toBeLessThanOrEqual(bound);
  });
});
