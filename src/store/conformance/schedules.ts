import { describe, expect, it } from 'vitest';
import type { Store } from '../store.js';
import type { Task } from '../types.js';
import { type ConformanceContext, expectGafferError, uid } from './helpers.js';

/** A base time of a test's own, far from the others', so one test's rounds never reach another's ticks. */
function base(offsetDays: number): Date {
  return new Date(Date.UTC(2031, 0, 1) + offsetDays * 24 * 3600_000);
}

async function tasksOfQueue(store: Store, queue: string): Promise<Task[]> {
  const out: Task[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listTasks({ queue, limit: 1000, cursor });
    out.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return out;
}

/**
 * Stores that are "servers" on one database: on PostgreSQL, stores of their own on the shared
 * store's schema; the embedded store is one process's, so there its servers share the one store.
 */
async function openPeers(
  ctx: ConformanceContext,
  n: number,
): Promise<{ stores: Store[]; close(): Promise<void> }> {
  const shared = ctx.store();
  if (shared.kind !== 'postgres')
    return { stores: Array.from({ length: n }, () => shared), close: async () => {} };
  const stores = await Promise.all(
    Array.from({ length: n }, () => ctx.makeStore({ schema: shared.options.schema })),
  );
  return { stores, close: async () => void (await Promise.all(stores.map((s) => s.close()))) };
}

export function scheduleTests(ctx: ConformanceContext): void {
  describe('schedules', () => {
    it('upserts by name, shows its next runs, and deletes', async () => {
      const store = ctx.store();
      const name = uid('sched');
      const now = base(0);
      const first = await store.upsertSchedule({
        name,
        cron: '0 9 * * *',
        timezone: 'Europe/Berlin',
        type: 'report.nightly',
        payload: { scope: 'all' },
        task: { queue: 'reports', priority: 5 },
        now,
      });
      expect(first.created).toBe(true);
      // 09:00 in Berlin in January is 08:00 UTC.
      expect(first.schedule.nextRunAt?.toISOString()).toBe('2031-01-01T08:00:00.000Z');
      expect(first.schedule.upcoming.map((d) => d.toISOString()).slice(0, 2)).toEqual([
        '2031-01-01T08:00:00.000Z',
        '2031-01-02T08:00:00.000Z',
      ]);
      expect(first.schedule).toMatchObject({
        catchUp: 'skip',
        paused: false,
        runs: 0,
        task: { queue: 'reports' },
      });

      const again = await store.upsertSchedule({
        name,
        cron: '0 9 * * *',
        timezone: 'Europe/Berlin',
        type: 'report.v2',
        now,
      });
      expect(again.created).toBe(false);
      expect(again.schedule.type).toBe('report.v2');
      expect(again.schedule.nextRunAt?.toISOString()).toBe('2031-01-01T08:00:00.000Z');
      const retimed = await store.upsertSchedule({ name, cron: '30 6 * * *', type: 'report.v2', now });
      expect(retimed.schedule.nextRunAt?.toISOString()).toBe('2031-01-01T06:30:00.000Z');

      expect((await store.getSchedule(name)).type).toBe('report.v2');
      const listed = await store.listSchedules({ limit: 1000 });
      expect(listed.items.map((s) => s.name)).toContain(name);
      const kinds = (await store.getScheduleEvents(name)).map((e) => e.kind);
      expect(kinds).toEqual(['updated', 'updated', 'created']);

      await store.deleteSchedule(name);
      await expectGafferError(store.getSchedule(name), 'not_found');
      await expectGafferError(store.deleteSchedule(name), 'not_found');
    });

    it('refuses a bad cron, time zone and interval, naming every field', async () => {
      const store = ctx.store();
      const err = await expectGafferError(
        store.upsertSchedule({ name: uid('bad'), cron: '61 * * * *', timezone: 'Mars/Base', type: 'x' }),
        'validation',
      );
      const fields = ((err.details?.errors ?? []) as { field: string }[]).map((e) => e.field).sort();
      expect(fields).toEqual(['cron', 'timezone']);
      const both = await expectGafferError(
        store.upsertSchedule({ name: uid('bad'), cron: '* * * * *', everyMs: 1000, type: 'x' }),
        'validation',
      );
      expect(both.details?.field).toBe('everyMs');
      const tiny = await expectGafferError(
        store.upsertSchedule({ name: 'has space', everyMs: 5, type: 'x', task: { priority: 1.5 } }),
        'validation',
      );
      expect(((tiny.details?.errors ?? []) as { field: string }[]).map((e) => e.field).sort()).toEqual([
        'everyMs',
        'name',
        'task.priority',
      ]);
    });

    it('fires each tick once, as a task keyed by its tick, and moves to the next', async () => {
      const store = ctx.store();
      const name = uid('every');
      const queue = uid('q');
      const t0 = base(10);
      await store.upsertSchedule({
        name,
        everyMs: 60_000,
        type: 'tick',
        payload: { n: 1 },
        task: { queue },
        now: t0,
      });
      expect(
        (await store.fireDueSchedules({ now: new Date(t0.getTime() + 59_000) })).fired.find(
          (f) => f.name === name,
        ),
      ).toBeUndefined();
      const round = await store.fireDueSchedules({ now: new Date(t0.getTime() + 60_000) });
      const mine = round.fired.find((f) => f.name === name)!;
      expect(mine.created.map((c) => c.tick.toISOString())).toEqual(['2031-01-11T00:01:00.000Z']);
      expect(mine.nextRunAt?.toISOString()).toBe('2031-01-11T00:02:00.000Z');
      // The same moment again: nothing is due.
      const again = await store.fireDueSchedules({ now: new Date(t0.getTime() + 60_000) });
      expect(again.fired.find((f) => f.name === name)).toBeUndefined();
      const tasks = await tasksOfQueue(store, queue);
      expect(tasks).toHaveLength(1);
      expect(tasks[0]).toMatchObject({
        type: 'tick',
        payload: { n: 1 },
        idempotencyKey: `schedule:${name}:2031-01-11T00:01:00.000Z`,
        metadata: { schedule: name, scheduledFor: '2031-01-11T00:01:00.000Z' },
      });
      const s = await store.getSchedule(name);
      expect(s).toMatchObject({ runs: 1, skipped: 0, lastTaskId: tasks[0]!.id });
      await store.deleteSchedule(name);
    });

    it('on three servers, creates each tick once across a restart', async () => {
      const name = uid('three');
      const queue = uid('q');
      const t0 = base(20);
      const at = (s: number) => new Date(t0.getTime() + s * 1000);
      let peers = await openPeers(ctx, 3);
      try {
        await peers.stores[0]!.upsertSchedule({
          name,
          everyMs: 1000,
          type: 'tick',
          task: { queue },
          catchUp: 'run',
          catchUpLimit: 100,
          now: t0,
        });
        // Every server runs every round at the same moments.
        for (let s = 1; s <= 5; s++) {
          await Promise.all(peers.stores.map((st) => st.fireDueSchedules({ now: at(s), graceMs: 2000 })));
        }
        await peers.close();
        peers = await openPeers(ctx, 3);
        // Back after 5 s of downtime: the missed ticks run once (catch-up run), whoever fires them.
        for (let s = 10; s <= 12; s++) {
          await Promise.all(peers.stores.map((st) => st.fireDueSchedules({ now: at(s), graceMs: 2000 })));
        }
        const tasks = await tasksOfQueue(peers.stores[1]!, queue);
        const ticks = tasks.map((t) => String(t.metadata.scheduledFor)).sort();
        expect(ticks).toEqual(Array.from({ length: 12 }, (_, i) => at(i + 1).toISOString()));
        expect((await peers.stores[2]!.getSchedule(name)).runs).toBe(12);
        await peers.stores[0]!.deleteSchedule(name);
      } finally {
        await peers.close();
      }
    });

    it('after a downtime, skips the missed ticks or runs the newest of them up to the limit', async () => {
      const store = ctx.store();
      const t0 = base(30);
      const fireAt = new Date(t0.getTime() + 60_000);
      const runs: Record<string, Task[]> = {};
      for (const [policy, limit] of [
        ['skip', 10],
        ['run', 5],
      ] as const) {
        const name = uid(policy);
        const queue = uid('q');
        await store.upsertSchedule({
          name,
          everyMs: 1000,
          type: 'tick',
          task: { queue },
          catchUp: policy,
          catchUpLimit: limit,
          now: t0,
        });
        const round = await store.fireDueSchedules({ now: fireAt, graceMs: 2000 });
        const mine = round.fired.find((f) => f.name === name)!;
        runs[policy] = await tasksOfQueue(store, queue);
        // Ticks at 1..60 s: 58, 59 and 60 are at most 2 s late (on time); 1..57 were missed.
        expect(mine.skipped).toBe(policy === 'skip' ? 57 : 52);
        expect((await store.getSchedule(name)).skipped).toBe(mine.skipped);
        const kinds = (await store.getScheduleEvents(name)).map((e) => e.kind);
        expect(kinds).toContain('skipped');
        expect(kinds.includes('caught_up')).toBe(policy === 'run');
        await store.deleteSchedule(name);
      }
      const seconds = (ts: Task[]) =>
        ts
          .map((t) => (Date.parse(String(t.metadata.scheduledFor)) - t0.getTime()) / 1000)
          .sort((a, b) => a - b);
      expect(seconds(runs.skip!)).toEqual([58, 59, 60]);
      expect(seconds(runs.run!)).toEqual([53, 54, 55, 56, 57, 58, 59, 60]);
    });

    it('fires nothing while paused, and resumes from the next tick without catching up the pause', async () => {
      const store = ctx.store();
      const name = uid('pause');
      const queue = uid('q');
      const t0 = base(40);
      const at = (s: number) => new Date(t0.getTime() + s * 1000);
      await store.upsertSchedule({
        name,
        everyMs: 1000,
        type: 'tick',
        task: { queue },
        catchUp: 'run',
        now: t0,
      });
      const paused = await store.pauseSchedule({ name, now: at(0.5) });
      expect(paused.paused).toBe(true);
      expect(paused.upcoming).toEqual([]);
      expect(
        (await store.fireDueSchedules({ now: at(30) })).fired.find((f) => f.name === name),
      ).toBeUndefined();
      const resumed = await store.resumeSchedule({ name, now: at(30.5) });
      expect(resumed.nextRunAt?.toISOString()).toBe(at(31).toISOString());
      await store.fireDueSchedules({ now: at(31) });
      const tasks = await tasksOfQueue(store, queue);
      expect(tasks.map((t) => t.metadata.scheduledFor)).toEqual([at(31).toISOString()]);
      expect((await store.getScheduleEvents(name)).map((e) => e.kind).slice(0, 2)).toEqual([
        'resumed',
        'paused',
      ]);
      await expectGafferError(store.pauseSchedule({ name: uid('none') }), 'not_found');
      await store.deleteSchedule(name);
    });
  });
}
