import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueInTransaction } from '../src/client/transactional.js';
import type { SqlStore } from '../src/store/sql-store.js';
import { dropPostgresStore, makePostgresStore, TEST_DATABASE_URL } from './helpers/stores.js';

describe('transactional enqueue on the caller’s own pg transaction (R1.5)', () => {
  let store: SqlStore;
  let pool: pg.Pool;
  const table = `predictions_${Math.random().toString(36).slice(2, 8)}`;

  beforeAll(async () => {
    store = (await makePostgresStore()) as SqlStore;
    pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 2 });
    await pool.query(`create table public.${table} (id text primary key)`);
  });
  afterAll(async () => {
    await pool.query(`drop table if exists public.${table}`);
    await pool.end();
    await dropPostgresStore(store);
  });

  it('commits the app row and its task together, and rolls both back together', async () => {
    const c = await pool.connect();
    try {
      await c.query('begin');
      await c.query(`insert into ${table} (id) values ('p1')`);
      const { tasks } = await enqueueInTransaction(store, c, [
        { type: 'predict', id: 'pred-p1', payload: { id: 'p1' } },
      ]);
      expect(tasks[0]!.id).toBe('pred-p1');
      // The caller's own search path is back: its unqualified table still resolves.
      await c.query(`select * from ${table}`);
      await c.query('commit');

      await c.query('begin');
      await c.query(`insert into ${table} (id) values ('p2')`);
      await enqueueInTransaction(store, c, [{ type: 'predict', id: 'pred-p2', payload: { id: 'p2' } }]);
      await c.query('rollback');
    } finally {
      c.release();
    }
    expect((await store.getTask('pred-p1')).status).toBe('queued');
    expect(await store.findTask('pred-p2')).toBeNull();
    const rows = await pool.query(`select id from ${table} order by id`);
    expect(rows.rows.map((r) => r.id)).toEqual(['p1']);
  });
});
