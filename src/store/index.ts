import { migrate } from './migrate.js';
import { PgliteDb } from './pglite/driver.js';
import { PostgresDb } from './postgres/driver.js';
import { SqlStore } from './sql-store.js';
import { DEFAULT_STORE_OPTIONS, type Store, type StoreOptions } from './store.js';

export { quoteIdent } from './db.js';
export type * from './flow-types.js';
export { DataDirLockedError, dataDirOwner, type LockOwner } from './pglite/lock.js';
export { SqlStore } from './sql-store.js';
export type { Store, StoreOptions } from './store.js';
export { DEFAULT_STORE_OPTIONS } from './store.js';
export type * from './types.js';

export interface PgliteStoreOptions extends Partial<StoreOptions> {
  /** Data directory; omitted: in memory. */
  dataDir?: string;
  migrate?: boolean;
  /** Named in the data directory's lock file (e.g. "gaffer serve"). */
  command?: string;
}

export interface PostgresStoreOptions extends Partial<StoreOptions> {
  connectionString: string;
  poolSize?: number;
  migrate?: boolean;
  /** application_name of Gaffer's connections (default gaffer; the LISTEN one adds -listen). */
  applicationName?: string;
}

function resolve(opts: Partial<StoreOptions>): StoreOptions {
  const out = { ...DEFAULT_STORE_OPTIONS };
  for (const k of Object.keys(out) as (keyof StoreOptions)[]) {
    if (opts[k] !== undefined) (out as Record<string, unknown>)[k] = opts[k];
  }
  return out;
}

export async function openPgliteStore(opts: PgliteStoreOptions = {}): Promise<SqlStore> {
  const options = resolve(opts);
  const db = await PgliteDb.open({ dataDir: opts.dataDir, schema: options.schema, command: opts.command });
  try {
    if (opts.migrate !== false) await migrate(db, options.schema);
    const store = new SqlStore(db, options);
    await store.start();
    return store;
  } catch (err) {
    await db.close().catch(() => {});
    throw err;
  }
}

export async function openPostgresStore(opts: PostgresStoreOptions): Promise<SqlStore> {
  const options = resolve(opts);
  const db = new PostgresDb({
    connectionString: opts.connectionString,
    schema: options.schema,
    max: opts.poolSize,
    applicationName: opts.applicationName,
  });
  try {
    if (opts.migrate !== false) await migrate(db, options.schema);
    const store = new SqlStore(db, options);
    await store.start();
    return store;
  } catch (err) {
    await db.close().catch(() => {});
    throw err;
  }
}

/** Opens PostgreSQL when a URL is given, else the embedded store in dataDir. */
/** What openStore takes: PostgreSQL when databaseUrl is given, else the embedded store. */
export type StoreOpenOptions = Partial<StoreOptions> & {
  databaseUrl?: string;
  dataDir?: string;
  migrate?: boolean;
  command?: string;
};

export function openStore(opts: StoreOpenOptions): Promise<Store> {
  return opts.databaseUrl
    ? openPostgresStore({ ...opts, connectionString: opts.databaseUrl })
    : openPgliteStore(opts);
}
