import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Db } from './db.js';
import { quoteIdent } from './db.js';

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function loadMigrations(): Migration[] {
  return readdirSync(MIGRATIONS_DIR)
    .filter((f) => /^\d{4}_.+\.sql$/.test(f))
    .sort()
    .map((f) => ({
      version: Number.parseInt(f.slice(0, 4), 10),
      name: f,
      sql: readFileSync(`${MIGRATIONS_DIR}${f}`, 'utf8'),
    }));
}

/**
 * Applies missing migrations in one transaction under an advisory lock, so any
 * number of servers and workers may start at once; running it again is a no-op.
 * Returns the names applied now.
 */
export async function migrate(db: Db, schema: string): Promise<string[]> {
  const q = quoteIdent(schema);
  const migrations = loadMigrations();
  return db.transaction(async (tx) => {
    await tx.query('select pg_advisory_xact_lock(hashtext($1))', [`gaffer:migrate:${schema}`]);
    await tx.exec(`create schema if not exists ${q}; set local search_path to ${q};
      create table if not exists ${q}.gaffer_migrations (
        version int primary key, name text not null, applied_at timestamptz not null default now())`);
    const done = await tx.query<{ version: number }>(`select version from ${q}.gaffer_migrations`);
    const have = new Set(done.rows.map((r) => r.version));
    const applied: string[] = [];
    for (const m of migrations) {
      if (have.has(m.version)) continue;
      await tx.exec(m.sql);
      await tx.query(`insert into ${q}.gaffer_migrations (version, name) values ($1, $2)`, [
        m.version,
        m.name,
      ]);
      applied.push(m.name);
    }
    return applied;
  });
}
