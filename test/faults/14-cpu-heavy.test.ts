import { afterAll, describe, expect, it } from 'vitest';
import type { Worker as WorkerRecord } from '../../src/store/types.js';
import { report, secs } from './helpers/figures.js';
import { PgScenario } from './helpers/scenario.js';
import { sleep, until } from './helpers/wait.js';

const LEASE_MS = 1500;
const SWEEP_MS = 200;

describe('14. CPU-heavy handlers keep their leases; a frozen process does not', () => {
  const s = new PgScenario('s14', {
    leaseMs: LEASE_MS,
    staleAfterMs: 2 * LEASE_MS,
    sweepIntervalMs: SWEEP_MS,
  });
  afterAll(() => s.cleanup());

  it('a handler busy-looping 3× the lease is neither re-run nor stale (but suspected stuck); SIGSTOP lapses and re-runs', async () => {
    await s.open();
    const busyQ = 'q14busy';
    const frozenQ = 'q14frozen';

    // A: the default Worker (heartbeats from a thread), one core busy for 3× the lease.
    const a = s.spawnWorker({ queue: busyQ, concurrency: 1 });
    const aId = (await a.ready()).workerId as string;
    const [busy] = (
      await s.store.createTasks({
        tasks: [{ type: 'block', queue: busyQ, payload: { blockMs: 3 * LEASE_MS, waitAbortMs: 0 } }],
      })
    ).tasks;
    let sawStale = false;
    let sawSuspected: WorkerRecord['liveness'] | null = null;
    let maxLagMs = 0;
    let maxLeaseAgeMs = 0;
    const busyDone = await until(
      async () => {
        const w = await s.store.getWorker(aId);
        sawStale ||= w.stale;
        maxLagMs = Math.max(maxLagMs, w.liveness.eventLoopLagMs ?? 0);
        maxLeaseAgeMs = Math.max(maxLeaseAgeMs, w.liveness.leaseAgeMs ?? 0);
        if (w.liveness.suspectedStuck && !sawSuspected) sawSuspected = w.liveness;
        const t = await s.store.getTask(busy!.id);
        return t.status === 'completed' ? t : null;
      },
      30_000,
      'the busy task completed',
      50,
    );
    const busyEvents = (await s.store.getTaskEvents(busy!.id)).map((e) => e.kind);
    const busyRuns = s.ledger().filter((e) => e.taskId === busy!.id && e.phase === 'S').length;
    const unblocked = s.ledger().some((e) => e.taskId === busy!.id && e.phase === 'U');

    // C: frozen (SIGSTOP) while it runs a task; D is there to take it once its lease lapses.
    const c = s.spawnWorker({ queue: frozenQ, concurrency: 1, sleepMs: 600_000 });
    const cId = (await c.ready()).workerId as string;
    const [frozen] = (await s.store.createTasks({ tasks: [{ type: 'sleep', queue: frozenQ, payload: {} }] }))
      .tasks;
    await until(
      () => s.ledger().some((e) => e.taskId === frozen!.id && e.pid === c.pid),
      15_000,
      'C runs it',
    );
    const d = s.spawnWorker({ queue: frozenQ, concurrency: 1, sleepMs: 50 });
    await d.ready();
    c.kill('SIGSTOP');
    const stoppedAt = Date.now();
    let suspectedAfterMs = Number.NaN;
    let lapsedAfterMs = Number.NaN;
    const frozenDone = await until(
      async () => {
        const w = await s.store.getWorker(cId);
        if (w.liveness.suspectedStuck && Number.isNaN(suspectedAfterMs))
          suspectedAfterMs = Date.now() - stoppedAt;
        const t = await s.store.getTask(frozen!.id);
        if (t.attempt > 1 && Number.isNaN(lapsedAfterMs)) lapsedAfterMs = Date.now() - stoppedAt;
        return t.status === 'completed' ? t : null;
      },
      LEASE_MS + SWEEP_MS + 15_000,
      'the frozen worker’s task completed by another worker',
      25,
    );
    const frozenEvents = await s.store.getTaskEvents(frozen!.id);
    const cStale = await until(
      async () => ((await s.store.getWorker(cId)).stale ? true : null),
      10_000,
      'C stale',
    );
    await sleep(0);

    const pass =
      busyDone.attempt === 1 &&
      !busyEvents.includes('lease_lost') &&
      busyRuns === 1 &&
      unblocked &&
      !sawStale &&
      sawSuspected !== null &&
      frozenDone.attempt === 2 &&
      frozenEvents.some((e) => e.kind === 'lease_lost' && e.attempt === 1) &&
      cStale &&
      suspectedAfterMs < lapsedAfterMs;
    report({
      id: '14',
      title: 'CPU-bound handler busy-looping 3× its 1.5 s lease (heartbeat thread); a SIGSTOPped worker',
      store: 'postgres',
      figures: {
        'busy: attempts': busyDone.attempt,
        'busy: runs': busyRuns,
        'busy: lease lapses': busyEvents.filter((k) => k === 'lease_lost').length,
        'busy: reported stale': sawStale,
        'busy: suspected stuck seen': sawSuspected !== null,
        'busy: max lag reported s': secs(maxLagMs),
        'busy: max lease age s': secs(maxLeaseAgeMs),
        'frozen: suspected after s': secs(suspectedAfterMs),
        'frozen: lapsed, re-run after s': secs(lapsedAfterMs),
        'frozen: completed on attempt': frozenDone.attempt,
      },
      bound:
        'busy: 1 attempt, 1 run, no lapse, never stale, suspected stuck; frozen: suspected before its lease lapses, re-run by another worker',
      pass,
    });
    expect(busyDone.attempt).toBe(1);
    expect(busyEvents).not.toContain('lease_lost');
    expect(busyRuns).toBe(1);
    expect(unblocked).toBe(true);
    expect(sawStale).toBe(false);
    expect(sawSuspected).toMatchObject({ heartbeatThread: true, suspectedStuck: true });
    expect(maxLagMs).toBeGreaterThanOrEqual(LEASE_MS / 3);
    // The thread renewed the leases all along: never near lapsing.
    expect(maxLeaseAgeMs).toBeLessThan(LEASE_MS);
    expect(frozenDone.attempt).toBe(2);
    expect(frozenEvents.some((e) => e.kind === 'lease_lost' && e.attempt === 1)).toBe(true);
    expect(cStale).toBe(true);
    expect(suspectedAfterMs).toBeLessThan(lapsedAfterMs);
  });
});
