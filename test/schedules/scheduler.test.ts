import { afterAll, describe, expect, it } from 'vitest';
import { SchedulerService } from '../../src/engine/scheduler.js';
import type { SqlStore } from '../../src/store/index.js';
import type { Task } from '../../src/store/types.js';
import { dropSchema, openTestStore, uniqueSchema, waitFor } from '../server/helpers.js';

const schema = uniqueSchema();
afterAll(() => dropSchema(schema));

async function queueTasks(store: SqlStore, queue: string): Promise<Task[]> {
  return (await store.listTasks({ queue, limit: 1000 })).items;
}

/** Three servers' engines: a store and a scheduler each, on one PostgreSQL schema. */
async function startServers(graceMs: number) {
  const stores = await Promise.all([0, 1, 2].map(() => openTestStore({ schema })));
  const schedulers = stores.map((s) => new SchedulerService(s, { pollIntervalMs: 100, graceMs }));
  return {
    stores,
    schedulers,
    start: () => {
      for (const s of schedulers) s.start();
    },
    async stop() {
      await Promise.all(schedulers.map((s) => s.stop()));
      await Promise.all(stores.map((s) => s.close()));
    },
  };
}

describe('the scheduler service on three servers', () => {
  it('creates each tick once, on time and after a restart', async () => {
    let servers = await startServers(60_000);
    const queue = 'sched-three';
    try {
      await servers.stores[0]!.upsertSchedule({
        name: 'three-servers',
        everyMs: 200,
        type: 'tick',
        task: { queue },
        catchUp: 'run',
        catchUpLimit: 1000,
      });
      servers.start();
      await waitFor(async () => (await queueTasks(servers.stores[0]!, queue)).length >= 8, '8 ticks');
      await servers.stop();
      const before = (await openTestStore({ schema })) as SqlStore;
      const countBefore = (await queueTasks(before, queue)).length;
      await before.close();

      servers = await startServers(60_000);
      servers.start();
      await waitFor(
        async () => (await queueTasks(servers.stores[1]!, queue)).length >= countBefore + 8,
        '8 more ticks after the restart',
      );
      await Promise.all(servers.schedulers.map((s) => s.stop()));

      const store = servers.stores[2]!;
      const tasks = await queueTasks(store, queue);
      const ticks = tasks.map((t) => Date.parse(String(t.metadata.scheduledFor))).sort((a, b) => a - b);
      // No tick twice, and none missing: consecutive ticks are one interval apart, the downtime's included
      // (within the grace, so they ran on restart).
      expect(new Set(tasks.map((t) => t.idempotencyKey)).size).toBe(tasks.length);
      for (let i = 1; i < ticks.length; i++) expect(ticks[i]! - ticks[i - 1]!).toBe(200);
      const schedule = await store.getSchedule('three-servers');
      expect(schedule.runs).toBe(tasks.length);
      expect(schedule.nextRunAt!.getTime()).toBe(ticks.at(-1)! + 200);
    } finally {
      await servers.stop().catch(() => {});
    }
  });
});
