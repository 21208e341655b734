import pg from 'pg';
import { CpuMeter } from './cpu.js';
import { dbUrl, runDatabase } from './pg.js';
import { now } from './types.js';

interface DbCounters {
  /** pg_stat_database.active_time: ms its backends spent executing statements. */
  activeMs: number;
  xactCommit: number;
  at: number;
}

/** What a database cost over a window, per second of it. */
export interface DbCost {
  /** active_time per second of wall time: the fraction of a core its statements kept busy. */
  busy: number;
  /** CPU time of its backends (from /proc/<pid>/schedstat) per second: the same, on the CPU only. */
  cpu: number;
  xactPerSecond: number;
  seconds: number;
}

/**
 * Reads a database's cost over a window from pg_stat_database (on a connection to `postgres`,
 * which counts in no other database) and the CPU of its backends. Backends publish their
 * counters when they go idle, at most once a second, so a window of many seconds is needed.
 * The bench's own sessions (application_name gaffer-bench…) are left out of the CPU and stay
 * idle while a window runs; so are background workers (autovacuum).
 */
export class DbCostMeter {
  private constructor(
    private readonly client: pg.Client,
    private readonly database: string,
  ) {}

  static async open(baseUrl: string, database: string): Promise<DbCostMeter> {
    const client = new pg.Client({
      connectionString: dbUrl(baseUrl, 'postgres'),
      application_name: 'gaffer-bench-stat',
    });
    await client.connect();
    return new DbCostMeter(client, runDatabase(database));
  }

  private async read(): Promise<DbCounters> {
    const res = await this.client.query<{ active: number; xact: string }>(
      `select coalesce(active_time, 0)::float8 as active, xact_commit::text as xact
       from pg_stat_database where datname = $1`,
      [this.database],
    );
    const row = res.rows[0];
    if (!row) throw new Error(`no pg_stat_database row for ${this.database}`);
    return { activeMs: Number(row.active), xactCommit: Number(row.xact), at: now() };
  }

  /** Client backends of the database but the bench's own (autovacuum and other workers are not). */
  private async clientPids(): Promise<number[]> {
    const res = await this.client.query<{ pid: number }>(
      `select pid from pg_stat_activity
       where datname = $1 and backend_type = 'client backend' and application_name not like 'gaffer-bench%'`,
      [this.database],
    );
    return res.rows.map((r) => r.pid);
  }

  /** Measures `seconds` of whatever runs meanwhile. */
  async window(seconds: number): Promise<DbCost> {
    const cpu = await CpuMeter.start(() => this.clientPids());
    const a = await this.read();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const b = await this.read();
    const cpuMs = await cpu.stop();
    const s = (b.at - a.at) / 1000;
    return {
      busy: (b.activeMs - a.activeMs) / 1000 / s,
      cpu: cpuMs / 1000 / s,
      xactPerSecond: (b.xactCommit - a.xactCommit) / s,
      seconds: s,
    };
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => {});
  }
}

/**
 * VACUUM ANALYZE the whole database: the state autovacuum reaches soon after a bulk load, so that
 * no autovacuum of the seeded rows runs while a scenario measures.
 */
/**
 * `VACUUM ANALYZE`, then a `CHECKPOINT`: seeding a million rows writes more WAL than max_wal_size, so
 * without it the checkpoint that follows a seed would spread its flushes over the next minutes
 * (checkpoint_completion_target) and slow every commit fsync of the probes that follow; a server that
 * has held such a backlog for a while has long finished that checkpoint.
 */
export async function vacuumAnalyze(baseUrl: string, database: string): Promise<void> {
  const c = new pg.Client({
    connectionString: dbUrl(baseUrl, database),
    application_name: 'gaffer-bench-seed',
  });
  await c.connect();
  try {
    await c.query('vacuum analyze');
    await c.query('checkpoint');
  } finally {
    await c.end().catch(() => {});
  }
}
