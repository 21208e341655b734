import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { quoteIdent } from '../../src/store/db.js';
import { openPgliteStore, openPostgresStore } from '../../src/store/index.js';
import type { Store, StoreOptions } from '../../src/store/store.js';

export const TEST_DATABASE_URL =
  process.env.GAFFER_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Schemas created by these helpers start with this, so dropping one can never hit real data. */
const TEST_SCHEMA_PREFIX = 'gaffer_t_';

/** An in-memory PGlite store, migrated on open. */
export async function makePgliteStore(opts: Partial<StoreOptions> = {}): Promise<Store> {
  return openPgliteStore({ ...opts });
}

export async function dropPgliteStore(store: Store): Promise<void> {
  await store.close();
}

function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}

/**
 * Fails (never skips) with a message saying how to fix it when the test database is
 * unreachable: a suite that silently skips its PostgreSQL half proves nothing.
 */
export async function assertPostgresReachable(): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
    await client.query('select 1');
  } catch (err) {
    throw new Error(
      `PostgreSQL is not reachable at ${redact(TEST_DATABASE_URL)} (${(err as Error).message}). ` +
        'Start PostgreSQL there, or point GAFFER_TEST_DATABASE_URL at a database the tests may create schemas in.',
    );
  } finally {
    await client.end().catch(() => {});
  }
}

/** A PostgreSQL store in a fresh schema of its own, migrated on open. */
export async function makePostgresStore(opts: Partial<StoreOptions> = {}): Promise<Store> {
  await assertPostgresReachable();
  const schema = `${TEST_SCHEMA_PREFIX}${randomBytes(6).toString('hex')}`;
  return openPostgresStore({ connectionString: TEST_DATABASE_URL, schema, ...opts });
}

/** Closes the store, then drops its schema with a separate connection. */
export async function dropPostgresStore(store: Store): Promise<void> {
  const schema = store.options.schema;
  await store.close();
  if (!schema.startsWith(TEST_SCHEMA_PREFIX)) {
    throw new Error(`refusing to drop schema ${schema}: not created by the test helpers`);
  }
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    await client.query(`drop schema if exists ${quoteIdent(schema)} cascade`);
  } finally {
    await client.end();
  }
}
