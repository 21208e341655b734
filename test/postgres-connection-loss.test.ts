import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { quoteIdent } from '../src/store/db.js';
import { PostgresDb } from '../src/store/postgres/driver.js';
import { assertPostgresReachable, TEST_DATABASE_URL } from './helpers/stores.js';

// A connection that dies between two statements of a transaction (terminated backend, database
// restart) must fail that transaction, not crash the process with an unhandled 'error' event.
const schema = `gaffer_t_${randomBytes(6).toString('hex')}`;
const appName = `gaffer-conn-loss-${randomBytes(3).toString('hex')}`;
let db: PostgresDb;

beforeAll(async () => {
  await assertPostgresReachable();
  db = new PostgresDb({ connectionString: TEST_DATABASE_URL, schema, applicationName: appName });
});
afterAll(async () => {
  await db.close();
  const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await c.connect();
  await c.query(`drop schema if exists ${quoteIdent(schema)} cascade`);
  await c.end();
});

it('fails a transaction whose connection is terminated between statements, without an uncaught error', async () => {
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown) => uncaught.push(err);
  process.on('uncaughtException', onUncaught);
  try {
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    const run = db.transaction(async (tx) => {
      await tx.query('select 1');
      await admin.query(
        'select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1 and pid <> pg_backend_pid()',
        [appName],
      );
      await new Promise((r) => setTimeout(r, 200)); // the FATAL message arrives while no statement runs
      await tx.query('select 2');
    });
    await expect(run).rejects.toThrow();
    await admin.end();
    // The pool recovers: the next transaction gets a fresh connection.
    await expect(db.transaction((tx) => tx.query<{ n: number }>('select 3 as n'))).resolves.toMatchObject({
      rows: [{ n: 3 }],
    });
    expect(uncaught).toEqual([]);
  } finally {
    process.off('uncaughtException', onUncaught);
  }
});
