import { afterAll, describe, expect, it } from 'vitest';
import { report, secs } from './helpers/figures.js';
import { FaultProxy } from './helpers/proxy.js';
import { PgScenario } from './helpers/scenario.js';
import { spawnServer } from './helpers/server-node.js';
import { until } from './helpers/wait.js';

const LEASE_MS = 2000;
const HANDLER_MS = 3 * LEASE_MS;

describe('3. A worker cut off from the server past its lease, its handler still running', () => {
  // A long stale period: only the lease lapses, the worker itself stays registered.
  const s = new PgScenario('s3', { leaseMs: LEASE_MS, staleAfterMs: 60_000, sweepIntervalMs: null });
  let proxy: FaultProxy | null = null;
  afterAll(async () => {
    await proxy?.close();
    await s.cleanup();
  });

  it('re-leases the task, refuses the old worker’s late completion, applies the result exactly once', async () => {
    await s.open();
    const { url } = await spawnServer(s, { sweepIntervalMs: 200 });
    proxy = await FaultProxy.start(url);
    const queue = 'q3';
    // Worker A reaches the server through the proxy; its handler runs 3× the lease, whatever happens.
    const a = s.spawnWorker({
      url: proxy.url,
      queue,
      concurrency: 1,
      sleepMs: HANDLER_MS,
      handleSignals: true,
    });
    await a.ready();
    const [task] = (
      await s.store.createTasks({ tasks: [{ type: 'sleep', queue, backoff: { baseMs: 100, jitter: 1 } }] })
    ).tasks;
    const started = await until(
      () => s.ledger().find((e) => e.taskId === task!.id && e.phase === 'S'),
      15_000,
      'A started',
    );
    // Worker B talks to the server directly.
    const b = s.spawnWorker({ url, queue, concurrency: 1, sleepMs: 50 });
    await b.ready();

    proxy.blackhole();
    const cutAt = Date.now();
    const done = await until(
      async () => {
        const t = await s.store.getTask(task!.id);
        return t.status === 'completed' ? t : null;
      },
      30_000,
      'completed by B',
    );
    const releasedAfterMs = done.startedAt!.getTime() - cutAt;
    proxy.heal();
    // A's handler ends (it never saw the cut) and reports its result late.
    await until(
      () => s.ledger().some((e) => e.taskId === task!.id && e.attempt === 1 && e.phase === 'D'),
      30_000,
      'A finished',
    );
    a.kill('SIGTERM');
    const stopped = await a.waitFor((e) => e.ev === 'stopped', 30_000);

    const events = await s.store.getTaskEvents(task!.id);
    const completions = events.filter((e) => e.kind === 'completed');
    const final = await s.store.getTask(task!.id);
    const pass =
      started.attempt === 1 &&
      final.attempt === 2 &&
      (final.result as { pid?: number }).pid === b.pid &&
      completions.length === 1 &&
      completions[0]!.attempt === 2 &&
      stopped.completed === 0 &&
      events.some((e) => e.kind === 'lease_lost' && e.attempt === 1);
    report({
      id: '3',
      title: 'Worker cut off (proxy blackhole) past its lease while its handler runs on',
      store: 'postgres',
      figures: {
        're-leased and done after cut s': secs(releasedAfterMs),
        'late completion applied': stopped.completed !== 0,
        completions: completions.length,
        'result from': (final.result as { pid?: number }).pid === b.pid ? 'new holder' : 'old holder',
      },
      bound: 're-leased after the lease; the cut-off worker’s completion refused; exactly one completion',
      pass,
    });
    expect(final.status).toBe('completed');
    expect(final.attempt).toBe(2);
    expect(final.result).toMatchObject({ pid: b.pid });
    expect(completions).toHaveLength(1);
    expect(completions[0]!.attempt).toBe(2);
    expect(stopped.completed).toBe(0);
    expect(events.some((e) => e.kind === 'lease_lost' && e.attempt === 1)).toBe(true);
  });
});
