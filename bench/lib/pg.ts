import { readFileSync } from 'node:fs';
import pg from 'pg';

/**
 * Bench databases carry the id of the run (the host's pid, inherited by its children through the
 * environment), so two bench runs on one server (two checkouts measured side by side) never drop
 * each other's databases mid-run.
 */
process.env.GAFFER_BENCH_RUN ??= String(process.pid);
export function runDatabase(database: string): string {
  return database.startsWith('bench_') ? `${database}_${process.env.GAFFER_BENCH_RUN}` : database;
}

/** The URL of `database` on the server of `baseUrl`. */
export function dbUrl(baseUrl: string, database: string): string {
  const u = new URL(baseUrl);
  u.pathname = `/${runDatabase(database)}`;
  return u.toString();
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url, application_name: 'gaffer-bench' });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => {});
  }
}

function checkBenchName(database: string): string {
  if (!/^bench_[a-z0-9_]+$/.test(database))
    throw new Error(`refusing to touch database ${database}: not a bench_ database`);
  return `"${runDatabase(database)}"`;
}

/** Drops (closing leftover sessions) and creates a bench database. */
export async function recreateDatabase(baseUrl: string, database: string): Promise<string> {
  const q = checkBenchName(database);
  await withClient(dbUrl(baseUrl, 'postgres'), async (c) => {
    await c.query(`drop database if exists ${q} with (force)`);
    await c.query(`create database ${q}`);
  });
  return dbUrl(baseUrl, database);
}

export async function dropDatabase(baseUrl: string, database: string): Promise<void> {
  const q = checkBenchName(database);
  await withClient(dbUrl(baseUrl, 'postgres'), (c) => c.query(`drop database if exists ${q} with (force)`));
}

/** One connection kept open for counting rows while a scenario runs. */
export class Counter {
  private client: pg.Client | null = null;
  constructor(
    private readonly url: string,
    private readonly sql: string,
    private readonly params: unknown[] = [],
  ) {}

  async count(): Promise<number> {
    if (!this.client) {
      this.client = new pg.Client({ connectionString: this.url, application_name: 'gaffer-bench-count' });
      await this.client.connect();
    }
    const res = await this.client.query<{ n: string }>(this.sql, this.params);
    return Number(res.rows[0]?.n ?? 0);
  }

  async close(): Promise<void> {
    await this.client?.end().catch(() => {});
    this.client = null;
  }
}

/** Server processes of the sessions connected to `database`, but for the bench's own counters. */
export async function backendPids(baseUrl: string, database: string): Promise<number[]> {
  return withClient(dbUrl(baseUrl, 'postgres'), async (c) => {
    const res = await c.query<{ pid: number }>(
      `select pid from pg_stat_activity where datname = $1 and application_name not like 'gaffer-bench%'`,
      [runDatabase(database)],
    );
    return res.rows.map((r) => r.pid);
  });
}

export const PG_SETTINGS = [
  'server_version',
  'synchronous_commit',
  'fsync',
  'wal_sync_method',
  'full_page_writes',
  'commit_delay',
  'shared_buffers',
  'work_mem',
  'max_wal_size',
  'checkpoint_timeout',
  'max_connections',
  'wal_level',
  'effective_io_concurrency',
] as const;

/** PostgreSQL settings as the server reports them with SHOW. */
export async function showSettings(baseUrl: string): Promise<Record<string, string>> {
  return withClient(dbUrl(baseUrl, 'postgres'), async (c) => {
    const out: Record<string, string> = {};
    for (const name of PG_SETTINGS) {
      const res = await c.query<Record<string, string>>(`show ${name}`);
      out[name] = Object.values(res.rows[0] ?? {})[0] ?? '';
    }
    return out;
  });
}

/** Installed version of an npm package, read from its package.json. */
export function packageVersion(name: string): string {
  try {
    const path = new URL(`../../node_modules/${name}/package.json`, import.meta.url);
    return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}
