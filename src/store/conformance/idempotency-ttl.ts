import { describe, expect, it } from 'vitest';
import { type ConformanceContext, expectGafferError, later, uid } from './helpers.js';

/** Idempotency windows (issue 15, item 5): a key with idempotencyTtlMs holds only that long. */
export function idempotencyTtlTests(ctx: ConformanceContext): void {
  describe('idempotency windows', () => {
    it('answers the same task inside the window and creates a new one after it', async () => {
      const store = ctx.store();
      const key = uid('ttl');
      const queue = uid('q');
      const first = await store.createTasks({
        tasks: [{ type: 't', queue, idempotencyKey: key, idempotencyTtlMs: 3_600_000 }],
      });
      const made = first.tasks[0]!;
      expect(first.outcomes).toEqual(['created']);
      expect(made.idempotencyExpiresAt!.getTime()).toBe(made.createdAt.getTime() + 3_600_000);
      // Read back at the database's precision (microseconds cut to milliseconds): the same moment within 1 ms.
      const stored = (await store.getTask(made.id)).idempotencyExpiresAt!.getTime();
      expect(Math.abs(stored - made.idempotencyExpiresAt!.getTime())).toBeLessThanOrEqual(1);

      const inside = await store.createTasks({
        tasks: [{ type: 't', queue, idempotencyKey: key, idempotencyTtlMs: 3_600_000 }],
      });
      expect(inside).toMatchObject({ outcomes: ['existing'], tasks: [{ id: made.id }] });

      // Two hours on, the window has passed: the key makes a new task, and the old one lets it go.
      const after = await store.createTasks({
        tasks: [{ type: 't', queue, idempotencyKey: key, idempotencyTtlMs: 3_600_000 }],
        now: later(2 * 3_600_000),
      });
      expect(after.outcomes).toEqual(['created']);
      expect(after.tasks[0]!.id).not.toBe(made.id);
      expect((await store.getTask(made.id)).idempotencyKey).toBeNull();
      expect((await store.getTask(after.tasks[0]!.id)).idempotencyKey).toBe(key);
      expect((await store.listTasks({ queue })).items).toHaveLength(2);
    });

    it('keeps a key without a window for ever, and refuses a window without a key', async () => {
      const store = ctx.store();
      const key = uid('forever');
      const first = await store.createTasks({ tasks: [{ type: 't', idempotencyKey: key }] });
      expect(first.tasks[0]!.idempotencyExpiresAt).toBeNull();
      const years = await store.createTasks({
        tasks: [{ type: 't', idempotencyKey: key }],
        now: later(10 * 365 * 24 * 3_600_000),
      });
      expect(years).toMatchObject({ outcomes: ['existing'], tasks: [{ id: first.tasks[0]!.id }] });
      const err = await expectGafferError(
        store.createTasks({ tasks: [{ type: 't', idempotencyTtlMs: 1000 }] }),
        'validation',
      );
      expect(err.details?.field).toBe('idempotencyTtlMs');
    });

    it('gives an expired key to exactly one of many concurrent creates', async () => {
      const store = ctx.store();
      const key = uid('race');
      const queue = uid('q');
      const old = await store.createTasks({
        tasks: [{ type: 't', queue, idempotencyKey: key, idempotencyTtlMs: 1000 }],
      });
      // Several "servers" (stores on one database, on PostgreSQL) create the expired key at once.
      const peers =
        store.kind === 'postgres'
          ? await Promise.all([0, 1, 2].map(() => ctx.makeStore({ schema: store.options.schema })))
          : [store, store, store];
      try {
        const now = later(60_000);
        const all = await Promise.all(
          peers.flatMap((s) =>
            [0, 1, 2].map(() =>
              s.createTasks({
                tasks: [{ type: 't', queue, idempotencyKey: key, idempotencyTtlMs: 3_600_000 }],
                now,
              }),
            ),
          ),
        );
        const created = all.filter((r) => r.outcomes[0] === 'created');
        expect(created).toHaveLength(1);
        const winner = created[0]!.tasks[0]!.id;
        expect(winner).not.toBe(old.tasks[0]!.id);
        expect(new Set(all.map((r) => r.tasks[0]!.id))).toEqual(new Set([winner]));
        expect((await store.listTasks({ queue })).items).toHaveLength(2);
      } finally {
        if (store.kind === 'postgres') await Promise.all(peers.map((s) => s.close()));
      }
    });
  });
}
