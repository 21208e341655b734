import { afterAll, describe, expect, it } from 'vitest';
import { report, secs } from './helpers/figures.js';
import { PgScenario } from './helpers/scenario.js';
import { until } from './helpers/wait.js';

const LEASE_MS = 1000;

describe('4. Long tasks and blocked event loops', () => {
  const s = new PgScenario('s4', { leaseMs: LEASE_MS, staleAfterMs: 10_000, sweepIntervalMs: 200 });
  afterAll(() => s.cleanup());

  it('never rescues a task running 10× its lease with heartbeats; a handler blocking past its lease loses it and sees its AbortSignal', async () => {
    await s.open();
    const longQ = 'q4long';
    const blockQ = 'q4block';
    const [long] = (
      await s.store.createTasks({ tasks: [{ type: 'sleep', queue: longQ, payload: { ms: 10 * LEASE_MS } }] })
    ).tasks;
    const [blocked] = (
      await s.store.createTasks({
        tasks: [
          {
            type: 'block',
            queue: blockQ,
            payload: { blockMs: 3 * LEASE_MS, waitAbortMs: 5000 },
            backoff: { baseMs: 100, jitter: 1 },
          },
        ],
      })
    ).tasks;
    // The same, but the handler ignores its signal and returns a result as soon as it unblocks.
    const ignoreQ = 'q4ignore';
    const [ignoring] = (
      await s.store.createTasks({
        tasks: [
          {
            type: 'block',
            queue: ignoreQ,
            payload: { blockMs: 3 * LEASE_MS, waitAbortMs: 0 },
            backoff: { baseMs: 100, jitter: 1 },
          },
        ],
      })
    ).tasks;
    const w1 = s.spawnWorker({ queue: longQ, concurrency: 1 });
    // Heartbeats on the event loop, as on the embedded store: a blocked loop stops them (with the
    // default heartbeat thread the lease is kept instead; that is scenario 14).
    const w2 = s.spawnWorker({ queue: blockQ, concurrency: 1, heartbeatThread: false });
    const w3 = s.spawnWorker({ queue: ignoreQ, concurrency: 1, heartbeatThread: false });
    await Promise.all([w1.ready(), w2.ready(), w3.ready()]);

    const longDone = await until(
      async () => {
        const t = await s.store.getTask(long!.id);
        return t.status === 'completed' ? t : null;
      },
      30_000,
      'long task completed',
    );
    const blockedDone = await until(
      async () => {
        const t = await s.store.getTask(blocked!.id);
        return t.status === 'completed' ? t : null;
      },
      30_000,
      'blocked task completed',
    );

    const ignoringDone = await until(
      async () => {
        const t = await s.store.getTask(ignoring!.id);
        return t.status === 'completed' ? t : null;
      },
      30_000,
      'ignoring task completed',
    );
    const ignoringCompletions = (await s.store.getTaskEvents(ignoring!.id)).filter(
      (e) => e.kind === 'completed',
    );
    const lateReturned = s
      .ledger()
      .some((e) => e.taskId === ignoring!.id && e.attempt === 1 && e.phase === 'D');

    const longEvents = (await s.store.getTaskEvents(long!.id)).map((e) => e.kind);
    const blockedEvents = await s.store.getTaskEvents(blocked!.id);
    const ledger = s.ledger();
    const aborted = ledger.find((e) => e.taskId === blocked!.id && e.attempt === 1 && e.phase === 'A');
    const unblocked = ledger.find((e) => e.taskId === blocked!.id && e.attempt === 1 && e.phase === 'U');
    const lateCompletion = ledger.some((e) => e.taskId === blocked!.id && e.attempt === 1 && e.phase === 'D');
    const runMs = longDone.finishedAt!.getTime() - longDone.startedAt!.getTime();
    const completions = blockedEvents.filter((e) => e.kind === 'completed');
    const pass =
      longDone.attempt === 1 &&
      !longEvents.includes('lease_lost') &&
      aborted?.extra === 'LeaseLostError' &&
      !lateCompletion &&
      blockedEvents.some((e) => e.kind === 'lease_lost' && e.attempt === 1) &&
      blockedDone.attempt === 2 &&
      completions.length === 1 &&
      lateReturned &&
      ignoringDone.attempt === 2 &&
      ignoringCompletions.length === 1 &&
      (ignoringDone.result as { attempt?: number }).attempt === 2;
    report({
      id: '4',
      title: 'Long task (10× lease) with heartbeats; handler blocking the event loop 3× its lease',
      store: 'postgres',
      figures: {
        'long task attempts': longDone.attempt,
        'long task ran s': secs(runMs),
        'long task rescues': longEvents.filter((k) => k === 'lease_lost').length,
        'blocked: abort seen after unblock s':
          aborted && unblocked ? secs(aborted.at - unblocked.at) : 'never',
        'blocked: abort reason': aborted?.extra ?? 'none',
        'blocked: completions': completions.length,
        'blocked: completed on attempt': blockedDone.attempt,
        'signal ignored: late result applied': !(
          lateReturned && (ignoringDone.result as { attempt?: number }).attempt === 2
        ),
        'signal ignored: completions': ignoringCompletions.length,
      },
      bound:
        'long task: 1 attempt, 0 rescues; blocked: lease lost, AbortSignal fired; a late result (signal ignored) refused; 1 completion each',
      pass,
    });
    expect(longDone.attempt).toBe(1);
    expect(runMs).toBeGreaterThanOrEqual(10 * LEASE_MS);
    expect(longEvents).not.toContain('lease_lost');
    expect(aborted?.extra).toBe('LeaseLostError');
    expect(lateCompletion).toBe(false);
    expect(blockedEvents.some((e) => e.kind === 'lease_lost' && e.attempt === 1)).toBe(true);
    expect(blockedDone.attempt).toBe(2);
    expect(completions).toHaveLength(1);
    expect(blockedDone.result).toMatchObject({ attempt: 2 });
    expect(lateReturned).toBe(true);
    expect(ignoringDone.attempt).toBe(2);
    expect(ignoringCompletions).toHaveLength(1);
    expect(ignoringDone.result).toMatchObject({ attempt: 2 });
  });
});
