import { PGlite } from '@electric-sql/pglite';
import type { Db, Queryable, QueryResult } from '../db.js';
import { quoteIdent } from '../db.js';
import { DataDirLock } from './lock.js';

export interface PgliteDbOptions {
  /** Data directory; omitted: in memory (tests). */
  dataDir?: string;
  schema: string;
  /** Named in the data directory's lock file (e.g. "gaffer serve"), for whoever finds it taken. */
  command?: string;
}

/**
 * PGlite is one connection in this process. Every statement and transaction goes
 * through one queue here so a transaction never interleaves with another caller's
 * statements, and wake-ups are delivered in process after commit.
 */
export class PgliteDb implements Db {
  readonly kind = 'pglite' as const;
  private tail: Promise<unknown> = Promise.resolve();
  private readonly channels = new Map<string, Set<(payload: string) => void>>();
  private readonly pending = new WeakMap<Queryable, Array<[string, string]>>();

  private constructor(
    readonly pg: PGlite,
    private readonly schema: string,
    /** The data directory's lock (none in memory): one process at a time opens a data directory. */
    readonly lock: DataDirLock | null,
  ) {}

  static async open(opts: PgliteDbOptions): Promise<PgliteDb> {
    const schema = quoteIdent(opts.schema);
    // Taken before PGlite touches the directory: a second process aborts inside PGlite, or corrupts it.
    const lock = opts.dataDir ? DataDirLock.acquire(opts.dataDir, opts.command) : null;
    try {
      const pg = await PGlite.create(opts.dataDir ? { dataDir: opts.dataDir } : {});
      await pg.exec(`create schema if not exists ${schema}; set search_path to ${schema}`);
      return new PgliteDb(pg, opts.schema, lock);
    } catch (err) {
      lock?.release();
      throw err;
    }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => {});
    return run;
  }

  query<R>(sql: string, params?: unknown[]): Promise<QueryResult<R>> {
    return this.serial(async () => {
      const res = await this.pg.query<R>(sql, params);
      return { rows: res.rows, rowCount: res.affectedRows ?? res.rows.length };
    });
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const signals: Array<[string, string]> = [];
    const out = await this.serial(() =>
      this.pg.transaction(async (t) => {
        const tx: Queryable = {
          query: async <R>(sql: string, params?: unknown[]) => {
            const res = await t.query<R>(sql, params);
            return { rows: res.rows, rowCount: res.affectedRows ?? res.rows.length };
          },
          exec: async (sql: string) => {
            await t.exec(sql);
          },
        };
        this.pending.set(tx, signals);
        return fn(tx);
      }),
    );
    for (const [channel, payload] of signals) this.deliver(channel, payload);
    return out;
  }

  exec(sql: string): Promise<void> {
    return this.serial(async () => {
      await this.pg.exec(sql);
    });
  }

  async notifyInTransaction(tx: Queryable, channel: string, payload: string): Promise<void> {
    this.signalledInTransaction(tx, channel, payload);
  }

  signalledInTransaction(tx: Queryable, channel: string, payload: string): void {
    const list = this.pending.get(tx);
    if (list) list.push([channel, payload]);
    else this.deliver(channel, payload);
  }

  scope(): Queryable {
    return { query: (sql, params) => this.query(sql, params), exec: (sql) => this.exec(sql) };
  }

  private deliver(channel: string, payload: string): void {
    const fns = this.channels.get(channel);
    if (fns) for (const f of fns) f(payload);
  }

  async listen(channel: string, fn: (payload: string) => void): Promise<() => Promise<void>> {
    let set = this.channels.get(channel);
    if (!set) {
      set = new Set();
      this.channels.set(channel, set);
    }
    set.add(fn);
    // What the SQL notifies itself (tasks a finished dependency released, migration 0008) arrives
    // as PGlite's own notification; everything else is signalled in process above.
    if (set.size === 1) {
      await this.serial(() => this.pg.listen(channel, (payload) => this.deliver(channel, payload)));
    }
    return async () => {
      set.delete(fn);
    };
  }

  async close(): Promise<void> {
    try {
      await this.serial(() => this.pg.close());
    } finally {
      this.lock?.release();
    }
  }

  get schemaName(): string {
    return this.schema;
  }
}
