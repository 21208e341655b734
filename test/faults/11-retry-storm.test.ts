import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/store.js';
import { report, secs } from './helpers/figures.js';
import { PgScenario } from './helpers/scenario.js';
import { until } from './helpers/wait.js';

// Retry delay in [base/2, base] with full jitter on the upper half (src/core/backoff.ts).
// Retries land at failure time + [base/2, base]: what is measured is the failure wave (2000
// failures take 3 s to report on an idle 2-core machine, over 10 s on a busy one) convolved with
// a 20 s jitter window. For a flat wave of length a and a window b, max/mean is (a + b) / max(a, b):
// never above 2, and near 1 when b ≫ a; the wide window keeps it clear of 2 plus the per-second
// noise. The retry rate stays under what the workers drain, so the spread is the jitter's, not a
// queue's. Retry scheduling is the same SQL on PGlite, so this runs on PostgreSQL only.
const BACKOFF = { baseMs: 40_000, factor: 2, maxMs: 60_000, jitter: 1 };

interface Spread {
  count: number;
  seconds: number;
  mean: number;
  max: number;
  ratio: number;
}

/** Per 1 s bins from the first to the last: the mean and the busiest second. */
function spread(times: number[]): Spread {
  const at = [...times].sort((x, y) => x - y);
  const first = at[0]!;
  const bins = new Array<number>(Math.floor((at.at(-1)! - first) / 1000) + 1).fill(0);
  for (const t of at) bins[Math.floor((t - first) / 1000)]!++;
  const mean = at.length / bins.length;
  const max = Math.max(...bins);
  return { count: at.length, seconds: bins.length, mean, max, ratio: max / mean };
}

/**
 * When the retries were due (run_at set at failure, the jitter's work) and when they ran
 * (claims of attempt 2, which add the workers' polling and the machine's scheduling noise).
 */
async function retryTimes(store: Store, queue: string): Promise<{ due: number[]; ran: number[] }> {
  const due: number[] = [];
  const ran: number[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listTasks({ queue, limit: 1000, cursor });
    for (const t of page.items) {
      for (const e of await store.getTaskEvents(t.id)) {
        if (e.kind === 'retry_scheduled' && e.attempt === 1)
          due.push(new Date(String(e.data?.runAt)).getTime());
        if (e.kind === 'claimed' && e.attempt === 2) ran.push(e.at.getTime());
      }
    }
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return { due, ran };
}

const round2 = (x: number) => Math.round(x * 100) / 100;

function reportStorm(
  id: string,
  title: string,
  n: number,
  t: { due: number[]; ran: number[] },
  doneMs: number,
) {
  const due = spread(t.due);
  const ran = spread(t.ran);
  const pass = due.count === n && ran.count === n && due.ratio <= 2;
  report({
    id,
    title,
    store: 'postgres',
    figures: {
      retries: ran.count,
      'due over s': due.seconds,
      'due max/mean per s': round2(due.ratio),
      'ran max/mean per s': round2(ran.ratio),
      'mean retries/s': Math.round(ran.mean),
      'all completed after s': secs(doneMs),
    },
    bound: 'retries due per second: max ≤ 2× the mean; all retried once and completed',
    pass,
  });
  expect(due.count).toBe(n);
  expect(ran.count).toBe(n);
  expect(due.ratio).toBeLessThanOrEqual(2);
}

describe('11. Retry storm', () => {
  const s = new PgScenario('s11', { leaseMs: 2000, staleAfterMs: 4000, sweepIntervalMs: 200 });
  beforeAll(() => s.open());
  afterAll(() => s.cleanup());

  it('2000 handlers failing transiently: retries spread by jitter, all complete', async () => {
    const queue = 'q11';
    const n = 2000;
    const workers = [0, 1].map(() => s.spawnWorker({ queue, concurrency: 20 }));
    await Promise.all(workers.map((w) => w.ready()));
    const t0 = Date.now();
    await s.store.createTasks({
      tasks: Array.from({ length: n }, () => ({
        type: 'flaky',
        queue,
        payload: { failUntil: 1 },
        backoff: BACKOFF,
      })),
    });
    await until(async () => (await s.counts(queue)).completed === n, 90_000, 'all completed', 200);
    const doneMs = Date.now() - t0;
    const title = `Retry storm: ${n} handlers failing transiently (backoff ${BACKOFF.baseMs / 1000} s, jitter 1)`;
    reportStorm('11a', title, n, await retryTimes(s.store, queue), doneMs);
  });

  it('2000 leases lapsing in one sweep (a crashed worker): retries spread by jitter, all complete', async () => {
    // All attempts end in one or two sweeps (1000 rows each): the spread is nearly the jitter's alone.
    const queue = 'q11b';
    const n = 2000;
    const backoff = { baseMs: 16_000, factor: 2, maxMs: 60_000, jitter: 1 };
    await s.store.createTasks({
      tasks: Array.from({ length: n }, () => ({ type: 'sleep', queue, payload: { ms: 0 }, backoff })),
    });
    const holder = s.spawnWorker({ queue, concurrency: 1, prefetch: n - 1, sleepMs: 600_000 });
    const holderId = (await holder.ready()).workerId as string;
    await until(
      async () => (await s.store.countTasks({ workerId: holderId, status: 'running' })).running === n,
      30_000,
      'one worker holds all',
    );
    const drainer = s.spawnWorker({ queue, concurrency: 50 });
    await drainer.ready();
    const t0 = Date.now();
    holder.kill('SIGKILL');
    await until(async () => (await s.counts(queue)).completed === n, 60_000, 'all completed', 200);
    const doneMs = Date.now() - t0;
    const title = `Retry storm: a worker holding ${n} leases killed (backoff ${backoff.baseMs / 1000} s, jitter 1)`;
    reportStorm('11b', title, n, await retryTimes(s.store, queue), doneMs);
  });
});
