import { afterAll, describe, expect, it } from 'vitest';
import { report, secs } from './helpers/figures.js';
import { checkExecutions } from './helpers/ledger.js';
import { adminQuery } from './helpers/pg.js';
import { PgScenario } from './helpers/scenario.js';
import { until } from './helpers/wait.js';

const TOTAL = Number(process.env.GAFFER_FAULTS_CLAIM_RACE_TASKS ?? 100_000);
const WORKERS = 4;
const CONCURRENCY = 50;
const CHUNK = 5000;

describe('7. Claim race without faults', () => {
  // The default 30 s lease: this scenario tests claiming, not lease expiry on a busy machine.
  const s = new PgScenario('s7', { leaseMs: 30_000, staleAfterMs: 60_000, sweepIntervalMs: 1000 });
  afterAll(() => s.cleanup());

  it(`${WORKERS} workers × ${CONCURRENCY} drain ${TOTAL} tasks with zero duplicate executions`, async () => {
    await s.open();
    const queue = 'q7';
    const workers = Array.from({ length: WORKERS }, () =>
      s.spawnWorker({ queue, concurrency: CONCURRENCY, prefetch: CONCURRENCY, poolSize: 6 }),
    );
    await Promise.all(workers.map((w) => w.ready()));

    // Enqueue while the workers are already claiming: claims race with inserts and with each other.
    const t0 = Date.now();
    for (let off = 0; off < TOTAL; off += CHUNK) {
      await s.store.createTasks({
        tasks: Array.from({ length: Math.min(CHUNK, TOTAL - off) }, (_, i) => ({
          type: 'noop',
          queue,
          payload: off + i,
        })),
      });
    }
    const enqueuedMs = Date.now() - t0;
    await until(async () => (await s.counts(queue)).completed === TOTAL, 420_000, `${TOTAL} completed`, 500);
    const drainMs = Date.now() - t0;

    const exec = checkExecutions(s.ledger());
    // Each task completed by its first attempt, and no attempt ended any other way (an attempt that
    // does writes its claim to the history).
    const [db] = await adminQuery<{ not_first: number; interrupted: number }>(
      `select (select count(*) from ${s.schema}.tasks where attempt <> 1 or status <> 'completed')::int as not_first,
         (select count(*) from ${s.schema}.task_events where kind = 'claimed')::int as interrupted`,
    );
    const pass =
      exec.starts === TOTAL &&
      exec.duplicatedTasks.length === 0 &&
      exec.sameAttemptTwice.length === 0 &&
      db!.not_first === 0 &&
      db!.interrupted === 0;
    report({
      id: '7',
      title: `Claim race: ${WORKERS} worker processes × concurrency ${CONCURRENCY}, ${TOTAL} tasks`,
      store: 'postgres',
      figures: {
        executions: exec.starts,
        duplicates: exec.duplicatedTasks.length,
        'same (task, attempt) twice': exec.sameAttemptTwice.length,
        'tasks past attempt 1': db!.not_first,
        'attempts interrupted': db!.interrupted,
        'enqueue s': secs(enqueuedMs),
        'drain s': secs(drainMs),
        'tasks/s': Math.round(TOTAL / (drainMs / 1000)),
      },
      bound: 'every task executed exactly once (unique (task, attempt) and per-task)',
      pass,
    });
    expect(exec.sameAttemptTwice).toEqual([]);
    expect(exec.duplicatedTasks).toEqual([]);
    expect(exec.starts).toBe(TOTAL);
    expect(db!.not_first).toBe(0);
    expect(db!.interrupted).toBe(0);
  });
});
