import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import compileDist from '../helpers/global-setup.js';
import { renderTable, type ScenarioFigures, updateReliabilityDoc } from './helpers/figures-table.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A database created for this run of the fault suite, dropped at the end. */
    faultsDatabaseUrl: string;
    /** Where each scenario writes its figures (one JSON file per scenario). */
    faultsResultsDir: string;
  }
}

const ADMIN_URL = process.env.GAFFER_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Creates the run's database; the teardown drops it and prints (and optionally publishes) the figures. */
export default async function setup(project: TestProject) {
  // Fixtures run the sources, but a Worker's heartbeat thread runs from dist/ when it exists: keep it current.
  compileDist();
  const dbName = `gaffer_faults_${randomBytes(4).toString('hex')}`;
  await admin((c) => c.query(`create database ${dbName}`)).catch((err: Error) => {
    throw new Error(
      `the fault suite needs PostgreSQL at ${ADMIN_URL.replace(/:[^:@/]*@/, ':***@')} (${err.message}); ` +
        'start it, or set GAFFER_TEST_DATABASE_URL',
    );
  });
  const resultsDir = join(tmpdir(), `gaffer-faults-${dbName}`);
  mkdirSync(resultsDir, { recursive: true });
  project.provide('faultsDatabaseUrl', withDatabase(ADMIN_URL, dbName));
  project.provide('faultsResultsDir', resultsDir);

  return async () => {
    for (let i = 0; i < 30; i++) {
      try {
        await admin((c) => c.query(`drop database if exists ${dbName} with (force)`));
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 1000)); // PostgreSQL may still be coming back up
      }
    }
    const rows: ScenarioFigures[] = readdirSync(resultsDir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => JSON.parse(readFileSync(join(resultsDir, f), 'utf8')) as ScenarioFigures);
    rmSync(resultsDir, { recursive: true, force: true });
    if (rows.length === 0) return;
    const table = renderTable(rows);
    const out = join(tmpdir(), 'gaffer-faults-last-run.md');
    writeFileSync(out, `${table}\n`);
    process.stdout.write(`\nFault suite figures (also in ${out}):\n\n${table}\n`);
    if (process.env.GAFFER_FAULTS_UPDATE_DOCS === '1') {
      updateReliabilityDoc(table);
      process.stdout.write('docs/RELIABILITY.md updated with these figures\n');
    }
  };
}
