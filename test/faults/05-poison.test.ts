import { afterAll, describe, expect, it } from 'vitest';
import { report, secs } from './helpers/figures.js';
import type { Fixture } from './helpers/procs.js';
import { PgScenario } from './helpers/scenario.js';
import { sleep, until } from './helpers/wait.js';

const LEASE_MS = 1500;
const MAX_ATTEMPTS = 3;
const NORMAL = 300;
const PAUSE_BOUND_MS = LEASE_MS + 2000;

describe('5. A poison task that kills its worker on every attempt', () => {
  const s = new PgScenario('s5', { leaseMs: LEASE_MS, staleAfterMs: 4000, sweepIntervalMs: 200 });
  afterAll(() => s.cleanup());

  it('reaches the dead letters after exactly max-attempts claims while other work keeps flowing', async () => {
    await s.open();
    const queue = 'q5';
    // A supervisor (like systemd or Kubernetes) restarts each of two worker slots when its process dies.
    const slots: Fixture[] = [];
    let crashes = 0;
    let supervising = true;
    const spawn = () => s.spawnWorker({ queue, concurrency: 4, sleepMs: 20 });
    slots.push(spawn(), spawn());
    await Promise.all(slots.map((f) => f.ready()));
    const supervisor = (async () => {
      while (supervising) {
        for (const [i, f] of slots.entries()) {
          if (!f.alive && supervising) {
            crashes++;
            slots[i] = spawn();
          }
        }
        await sleep(50);
      }
    })();

    const t0 = Date.now();
    const [poison] = (
      await s.store.createTasks({
        tasks: [{ type: 'poison', queue, maxAttempts: MAX_ATTEMPTS, backoff: { baseMs: 100, jitter: 1 } }],
      })
    ).tasks;
    // Normal work trickles in while the poison task crashes workers.
    for (let batch = 0; batch < 15; batch++) {
      await s.store.createTasks({
        tasks: Array.from({ length: NORMAL / 15 }, (_, i) => ({
          type: 'sleep',
          queue,
          payload: { batch, i },
          maxAttempts: 10,
          backoff: { baseMs: 100, jitter: 1 },
        })),
      });
      await sleep(500);
    }
    const dead = await until(
      async () => {
        const t = await s.store.getTask(poison!.id);
        return t.status === 'failed' ? t : null;
      },
      60_000,
      'poison task dead-lettered',
    );
    const deadAfterMs = dead.finishedAt!.getTime() - dead.createdAt.getTime();
    await until(
      async () => (await s.store.countTasks({ queue, type: 'sleep' })).completed === NORMAL,
      60_000,
      'normal work done',
    );
    const normalDoneMs = Date.now() - t0;
    supervising = false;
    await supervisor;

    const claims = (await s.store.getTaskEvents(poison!.id)).filter((e) => e.kind === 'claimed').length;
    const poisonStarts = s.ledger().filter((e) => e.taskId === poison!.id && e.phase === 'S').length;
    const normal = await s.store.countTasks({ queue, type: 'sleep' });
    // How other work flowed while the poison task was alive: completions and the longest pause between two.
    const finished = (await s.store.listTasks({ queue, type: 'sleep', limit: 1000 })).items
      .map((t) => t.finishedAt!.getTime())
      .sort((x, y) => x - y);
    const deadAt = dead.finishedAt!.getTime();
    const duringPoison = finished.filter((t) => t <= deadAt).length;
    let longestPause = 0;
    for (let i = 1; i < finished.length && finished[i]! <= deadAt; i++) {
      longestPause = Math.max(longestPause, finished[i]! - finished[i - 1]!);
    }
    const pass =
      dead.attempt === MAX_ATTEMPTS &&
      claims === MAX_ATTEMPTS &&
      poisonStarts === MAX_ATTEMPTS &&
      normal.completed === NORMAL &&
      longestPause <= PAUSE_BOUND_MS;
    report({
      id: '5',
      title: 'Poison task killing its worker process on every attempt (2 supervised workers)',
      store: 'postgres',
      figures: {
        'poison claims': claims,
        'worker crashes': crashes,
        'dead-lettered after s': secs(deadAfterMs),
        'other tasks completed': `${normal.completed}/${NORMAL}`,
        'other completions while poison live': duringPoison,
        'longest pause in other work s': secs(longestPause),
        'all other work done s': secs(normalDoneMs),
      },
      bound: `dead letter after exactly maxAttempts (${MAX_ATTEMPTS}) claims; all other tasks complete, never pausing > ${secs(PAUSE_BOUND_MS)} s`,
      pass,
    });
    expect(dead.status).toBe('failed');
    expect(dead.attempt).toBe(MAX_ATTEMPTS);
    expect(claims).toBe(MAX_ATTEMPTS);
    expect(poisonStarts).toBe(MAX_ATTEMPTS);
    expect(crashes).toBeGreaterThanOrEqual(MAX_ATTEMPTS);
    expect(normal.completed).toBe(NORMAL);
    expect(longestPause).toBeLessThanOrEqual(PAUSE_BOUND_MS);
  });
});
