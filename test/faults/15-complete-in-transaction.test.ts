import { afterAll, describe, expect, it } from 'vitest';
import { report, secs } from './helpers/figures.js';
import { adminQuery } from './helpers/pg.js';
import { PgScenario } from './helpers/scenario.js';
import { until } from './helpers/wait.js';

const LEASE_MS = 1500;
const SWEEP_MS = 200;

describe('15. SIGKILL between the handler’s commit and the report', () => {
  const s = new PgScenario('s15', { leaseMs: LEASE_MS, staleAfterMs: 3000, sweepIntervalMs: SWEEP_MS });
  afterAll(() => s.cleanup());

  it('with ctx.completeInTransaction the effect happened once and the task is completed, not re-run', async () => {
    await s.open();
    await adminQuery(
      `create table "${s.schema}".effects (task_id text, attempt int, pid int, primary key (task_id, attempt))`,
    );
    const effects = async (taskId: string) =>
      adminQuery<{ attempt: number; pid: number }>(
        `select attempt, pid from "${s.schema}".effects where task_id = $1 order by attempt`,
        [taskId],
      );
    const txQ = 'q15tx';
    const plainQ = 'q15plain';
    const backoff = { baseMs: 50, jitter: 1 };

    // Each first worker commits its effect, then dies before it can report.
    const a1 = s.spawnWorker({ queue: txQ, concurrency: 1 });
    const a2 = s.spawnWorker({ queue: plainQ, concurrency: 1 });
    await Promise.all([a1.ready(), a2.ready()]);
    const [inTx] = (
      await s.store.createTasks({
        tasks: [
          { type: 'effect', queue: txQ, payload: { inTransaction: true, killAfterCommit: true }, backoff },
        ],
      })
    ).tasks;
    // The contrast: the same handler committing its effect on its own, the completion reported after.
    const [plain] = (
      await s.store.createTasks({
        tasks: [
          {
            type: 'effect',
            queue: plainQ,
            payload: { inTransaction: false, killAfterCommit: true },
            backoff,
          },
        ],
      })
    ).tasks;
    const [a1Exit, a2Exit] = await Promise.all([a1.exited, a2.exited]);
    const killedAt = Date.now();
    expect(a1Exit.signal).toBe('SIGKILL');
    expect(a2Exit.signal).toBe('SIGKILL');

    // Workers that would run anything handed back.
    const b1 = s.spawnWorker({ queue: txQ, concurrency: 1 });
    const b2 = s.spawnWorker({ queue: plainQ, concurrency: 1 });
    await Promise.all([b1.ready(), b2.ready()]);

    // The plain task's lease lapses and it runs again: by then the in-transaction one would have too.
    const plainDone = await until(
      async () => {
        const t = await s.store.getTask(plain!.id);
        return t.status === 'completed' ? t : null;
      },
      LEASE_MS + SWEEP_MS + 15_000,
      'the plain task completed by another worker',
    );
    const rerunMs = Date.now() - killedAt;
    // And one more lease and sweep, so a lapse of the in-transaction task would have been seen.
    await new Promise((r) => setTimeout(r, LEASE_MS + 2 * SWEEP_MS));

    const txTask = await s.store.getTask(inTx!.id);
    const txEffects = await effects(inTx!.id);
    const plainEffects = await effects(plain!.id);
    const txStarts = s.ledger().filter((e) => e.taskId === inTx!.id && e.phase === 'S');
    const txEvents = (await s.store.getTaskEvents(inTx!.id)).map((e) => e.kind);
    const pass =
      txTask.status === 'completed' &&
      txTask.attempt === 1 &&
      txEffects.length === 1 &&
      txStarts.length === 1 &&
      !txEvents.includes('lease_lost') &&
      plainDone.attempt === 2 &&
      plainEffects.length === 2;
    report({
      id: '15',
      title:
        'SIGKILL between the handler’s commit and the report: completeInTransaction vs. report after commit',
      store: 'postgres',
      figures: {
        'in tx: status': txTask.status,
        'in tx: attempts': txTask.attempt,
        'in tx: effects': txEffects.length,
        'in tx: runs': txStarts.length,
        'report after: attempts': plainDone.attempt,
        'report after: effects': plainEffects.length,
        'report after: re-run after s': secs(rerunMs),
      },
      bound:
        'in tx: completed on attempt 1, 1 effect, 1 run; report after commit: re-run, 2 effects (at least once)',
      pass,
    });
    expect(txTask.status).toBe('completed');
    expect(txTask.attempt).toBe(1);
    expect(txTask.result).toMatchObject({ attempt: 1, pid: a1.pid });
    expect(txEffects).toEqual([{ attempt: 1, pid: a1.pid }]);
    expect(txStarts).toHaveLength(1);
    expect(txEvents).not.toContain('lease_lost');
    // Without it the effect is committed and the task still runs again: at least once, twice here.
    expect(plainDone.attempt).toBe(2);
    expect(plainEffects.map((e) => e.attempt)).toEqual([1, 2]);
  });
});
