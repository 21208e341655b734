import { describe, expect, it } from 'vitest';
import type { Db } from '../db.js';
import { claimTasks } from '../sql/claims.js';
import type { Store } from '../store.js';
import type { ClaimTasksParams } from '../types.js';
import { type ConformanceContext, fixture, uid } from './helpers.js';

/**
 * Rows of task_queue the statement read (heap tuples fetched by index scans plus tuples read by
 * sequential scans), counted by PostgreSQL for the transaction the claim runs in.
 */
export async function claimReading(
  store: Store,
  p: ClaimTasksParams,
): Promise<{ ids: string[]; rowsRead: number }> {
  const db = (store as { db?: Db }).db;
  if (!db) throw new Error('this driver exposes no db to count the rows a claim reads');
  return db.transaction(async (tx) => {
    // Counts pending in this connection may include earlier statements': read them before and after.
    const read = async () =>
      (
        await tx.query<{ n: number }>(
          `select coalesce(sum(coalesce(idx_tup_fetch, 0) + coalesce(seq_tup_read, 0)), 0)::int as n
           from pg_stat_xact_user_tables where relname = 'task_queue' and schemaname = current_schema()`,
        )
      ).rows[0]!.n;
    const before = await read();
    const claimed = await claimTasks(tx, p, store.options.leaseMs, store.options.staleAfterMs);
    return { ids: claimed.map((t) => t.id), rowsRead: (await read()) - before };
  });
}

/** R5 across types: one worker taking several types, and claims that read only their own types' rows. */
export function claimTypeTests(ctx: ConformanceContext): void {
  describe('claimTasks across types', () => {
    it('takes the tasks of several types in one global order: priority, then run-at, then creation', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const [a, b, c] = [uid('a'), uid('b'), uid('c')];
      const at = (s: number) => new Date(Date.now() - 600_000 + s * 1000);
      const make = async (type: string, priority: number, runAt: Date) =>
        (await fx.create({ type, priority, runAt })).id;
      const a1 = await make(a, 0, at(3));
      const b1 = await make(b, 0, at(1));
      const c1 = await make(c, 5, at(9));
      const a2 = await make(a, 5, at(8));
      const b2 = await make(b, -1, at(0));
      const c2 = await make(c, 0, at(2));
      const a3 = await make(a, 0, at(2));
      const worker = await fx.worker({ types: [a, b, c] });
      const one: string[] = [];
      for (let i = 0; i < 3; i++)
        one.push(...(await fx.claim(worker.id, { types: [a, b, c] })).map((t) => t.id));
      // Same run-at: creation order (c2 was created before a3).
      expect(one).toEqual([a2, c1, b1]);
      const rest = await fx.claim(worker.id, { types: [a, b, c], limit: 10 });
      expect(rest.map((t) => t.id)).toEqual([c2, a3, a1, b2]);
    });

    it('does not starve a type behind another type’s backlog: its task comes out in its turn', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const big = uid('big');
      const small = uid('small');
      const older = await fx.createMany(40, { type: big });
      const mine = await fx.create({ type: small });
      const newer = await fx.createMany(40, { type: big });
      const worker = await fx.worker({ types: [big, small] });
      const order: string[] = [];
      for (;;) {
        const batch = await fx.claim(worker.id, { types: [big, small], limit: 7 });
        if (batch.length === 0) break;
        order.push(...batch.map((t) => t.id));
      }
      expect(order).toEqual([...older.map((t) => t.id), mine.id, ...newer.map((t) => t.id)]);
      // A worker of the small type alone gets its tasks at once, whatever waits of the other.
      const next = await fx.create({ type: small });
      await fx.createMany(30, { type: big });
      const alone = await fx.worker({ types: [small] });
      expect((await fx.claim(alone.id, { types: [small], limit: 5 })).map((t) => t.id)).toEqual([next.id]);
    });

    it('a worker of many types, some with no work, gets a full batch in order, from every queue it takes', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const types = Array.from({ length: 12 }, (_, i) => `${uid('m')}_${i}`);
      const other = uid('q');
      const ids: string[] = [];
      for (let i = 0; i < 18; i++) {
        const type = types[(i * 5) % 8]!;
        const queue = i % 3 === 0 ? other : fx.queue;
        const { tasks } = await store.createTasks({ tasks: [{ type, queue, payload: { i } }] });
        ids.push(tasks[0]!.id);
      }
      const worker = await fx.worker({ types, queues: [fx.queue, other] });
      const first = await store.claimTasks({
        workerId: worker.id,
        types,
        queues: [fx.queue, other],
        limit: 10,
      });
      // No queues given: every queue that holds tasks of these types.
      const second = await store.claimTasks({ workerId: worker.id, types, limit: 10 });
      expect([...first, ...second].map((t) => t.id)).toEqual(ids);
    });

    it('a claim of one type reads none of the rows of another type waiting ahead of it', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const backlog = uid('backlog');
      await fx.createMany(300, { type: backlog, priority: 3 });
      const mine = await fx.create({ priority: 0 });
      const worker = await fx.worker({ types: [fx.type, backlog] });
      const only = await claimReading(store, {
        workerId: worker.id,
        types: [fx.type],
        queues: [fx.queue],
        limit: 5,
      });
      expect(only.ids).toEqual([mine.id]);
      // The pair's head and the row taken (each read once or twice), never the 300 ahead of it.
      expect(only.rowsRead).toBeLessThan(10);
      // Without queues the claim finds the type's queues by probing the index, still not the backlog.
      const again = await fx.create({ priority: 0 });
      const anyQueue = await claimReading(store, { workerId: worker.id, types: [fx.type], limit: 5 });
      expect(anyQueue.ids).toEqual([again.id]);
      expect(anyQueue.rowsRead).toBeLessThan(10);
      // The check can fail: a claim of the backlog's type does read its rows.
      const theirs = await claimReading(store, {
        workerId: worker.id,
        types: [backlog],
        queues: [fx.queue],
        limit: 50,
      });
      expect(theirs.ids).toHaveLength(50);
      expect(theirs.rowsRead).toBeGreaterThanOrEqual(50);
    });
  });
}
