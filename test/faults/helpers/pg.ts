import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { inject } from 'vitest';
import { quoteIdent } from '../../../src/store/db.js';
import { openPostgresStore } from '../../../src/store/index.js';
import type { SqlStore } from '../../../src/store/sql-store.js';

const run = promisify(execFile);

export function faultsUrl(): string {
  return inject('faultsDatabaseUrl');
}

/** A schema name of this run; `tag` names the scenario so a leftover is easy to trace. */
export function newSchema(tag: string): string {
  return `f_${tag}_${randomBytes(4).toString('hex')}`;
}

/** An application_name unique to one test, so terminations never touch anyone else's connections. */
export function newAppName(tag: string): string {
  return `gaffer-f-${tag}-${randomBytes(3).toString('hex')}`;
}

export interface TestStoreOptions {
  schema: string;
  leaseMs?: number;
  staleAfterMs?: number;
  applicationName?: string;
  poolSize?: number;
  maxAttempts?: number;
}

/** A migrated PostgreSQL store on the run's database. */
export function openTestStore(o: TestStoreOptions): Promise<SqlStore> {
  return openPostgresStore({ connectionString: faultsUrl(), ...o });
}

export async function adminQuery<R = Record<string, unknown>>(
  sql: string,
  params: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: faultsUrl(), connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as R[];
  } finally {
    await client.end().catch(() => {});
  }
}

export async function dropSchema(schema: string): Promise<void> {
  if (!schema.startsWith('f_')) throw new Error(`refusing to drop ${schema}: not a fault-suite schema`);
  await adminQuery(`drop schema if exists ${quoteIdent(schema)} cascade`);
}

/** Terminates this run's backends whose application_name starts with `appPrefix`; returns how many. */
export async function terminateBackends(appPrefix: string): Promise<number> {
  if (!appPrefix.startsWith('gaffer-f-'))
    throw new Error(`refusing to terminate ${appPrefix}: not a fault-suite name`);
  const rows = await adminQuery<{ n: number }>(
    `select count(*) filter (where pg_terminate_backend(pid))::int as n from pg_stat_activity
     where datname = current_database() and pid <> pg_backend_pid() and application_name like $1 || '%'`,
    [appPrefix],
  );
  return rows[0]?.n ?? 0;
}

export async function pgReady(): Promise<boolean> {
  try {
    await run('pg_isready', ['-h', '127.0.0.1', '-p', '5432', '-q']);
    return true;
  } catch {
    return false;
  }
}

export async function waitPgReady(timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pgReady())) {
    if (Date.now() > deadline) throw new Error(`PostgreSQL not ready after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Restarts the machine's PostgreSQL cluster (at most once per suite run: it disturbs
 * every other client of the server) and waits until it accepts connections again.
 */
export async function restartPostgres(): Promise<{ downMs: number }> {
  const marker = join(inject('faultsResultsDir'), 'pg-restarted');
  if (existsSync(marker))
    throw new Error('PostgreSQL was already restarted in this run; the suite does it once');
  writeFileSync(marker, new Date().toISOString());
  const version = readdirSync('/etc/postgresql').sort().at(-1);
  if (!version) throw new Error('no PostgreSQL cluster under /etc/postgresql');
  const t0 = Date.now();
  try {
    await run('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'restart', '-m', 'fast']);
  } finally {
    await waitPgReady();
  }
  return { downMs: Date.now() - t0 };
}
