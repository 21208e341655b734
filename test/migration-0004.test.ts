import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quoteIdent } from '../src/store/db.js';
import { openPostgresStore } from '../src/store/index.js';
import { loadMigrations } from '../src/store/migrate.js';
import type { SqlStore } from '../src/store/sql-store.js';
import { assertPostgresReachable, TEST_DATABASE_URL } from './helpers/stores.js';

/**
 * A database made by an earlier version (migrations 0001-0003, their own functions) with tasks in
 * every state, then opened by this one: migration 0004 must carry queued and running tasks into its
 * queue and claims, and histories written as rows must read the same as before.
 */
describe('migration 0004 on data of earlier versions', () => {
  const schema = `gaffer_t_${randomBytes(6).toString('hex')}`;
  const q = quoteIdent(schema);
  let admin: pg.Client;
  let store: SqlStore;
  const ids = { queued: 'm-queued', running: 'm-running', completed: 'm-completed' };
  let workerId = '';

  beforeAll(async () => {
    await assertPostgresReachable();
    admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    await admin.query(`create schema ${q}`);
    await admin.query(`set search_path to ${q}`);
    await admin.query(`create table gaffer_migrations (
      version int primary key, name text not null, applied_at timestamptz not null default now())`);
    for (const m of loadMigrations().filter((m) => m.version < 4)) {
      await admin.query(m.sql);
      await admin.query('insert into gaffer_migrations (version, name) values ($1, $2)', [m.version, m.name]);
    }
    // What the earlier version did: its own insert, claim and complete functions.
    const n = Object.keys(ids).length;
    await admin.query(
      `select insert_tasks($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 3,
        '{"baseMs": 1000, "factor": 2, "maxMs": 300000, "jitter": 1}')`,
      [
        [ids.completed, ids.running, ids.queued],
        Array(n).fill('old.type'),
        Array(n).fill('old'),
        Array(n).fill('{"n": 1}'),
        Array(n).fill(0),
        Array(n).fill(null),
        Array(n).fill(null),
        Array(n).fill(null),
        Array(n).fill(null),
        Array(n).fill(null),
        Array(n).fill(null),
        Array(n).fill(null),
        Array(n).fill(null),
        Array(n).fill(null),
        Array(n).fill(null),
        Array(n).fill('{}'),
      ],
    );
    workerId = `w-${randomBytes(4).toString('hex')}`;
    await admin.query(`insert into workers (id, machine_id, types) values ($1, 'old-box', '{old.type}')`, [
      workerId,
    ]);
    const claimed = await admin.query<{ id: string; attempt: number }>(
      `select id, attempt from claim_tasks($1, null, 60000, 30000, '{old.type}', null, 2, null, null)`,
      [workerId],
    );
    expect(claimed.rows.map((r) => r.id).sort()).toEqual([ids.completed, ids.running].sort());
    await admin.query(`select * from complete_tasks($1, $2, $3, $4)`, [
      [ids.completed],
      [1],
      [workerId],
      ['{"done": true}'],
    ]);
    store = await openPostgresStore({ connectionString: TEST_DATABASE_URL, schema });
  });

  afterAll(async () => {
    await store?.close();
    await admin.query(`drop schema if exists ${q} cascade`);
    await admin.end();
  });

  it('lists each task under the status it had, and counts it there', async () => {
    const counts = await store.countTasks({ type: 'old.type' });
    expect(counts).toMatchObject({ queued: 1, running: 1, completed: 1 });
    for (const [status, id] of Object.entries(ids)) {
      const page = await store.listTasks({ status: status as 'queued', type: 'old.type' });
      expect(page.items.map((t) => t.id)).toEqual([id]);
    }
  });

  it('reads histories written as rows once each, with the derived steps of later ones', async () => {
    const kinds = async (id: string) => (await store.getTaskEvents(id)).map((e) => e.kind);
    expect(await kinds(ids.completed)).toEqual(['created', 'claimed', 'completed']);
    expect(await kinds(ids.running)).toEqual(['created', 'claimed']);
    expect(await kinds(ids.queued)).toEqual(['created']);
  });

  it('lets the worker that held a task before the upgrade complete it, and closes its claim', async () => {
    const res = await store.completeTasks([{ taskId: ids.running, attempt: 1, workerId, result: 'after' }]);
    expect(res.completed).toEqual([ids.running]);
    expect(await store.getTask(ids.running)).toMatchObject({ status: 'completed', result: 'after' });
    const open = await store.db.query<{ n: number }>('select count(*)::int as n from task_claims');
    expect(open.rows[0]!.n).toBe(0);
  });

  it('claims the task that was queued, and keeps the earlier completion in the throughput', async () => {
    const w = await store.registerWorker({ machineId: 'new-box', types: ['old.type'] });
    const [t] = await store.claimTasks({ workerId: w.id, types: ['old.type'], limit: 5 });
    expect(t).toMatchObject({ id: ids.queued, attempt: 1 });
    const done = (await store.throughput({ minutes: 5 })).reduce((a, p) => a + p.completed, 0);
    expect(done).toBeGreaterThanOrEqual(2);
  });
});
