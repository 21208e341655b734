import pg from 'pg';
import type { Db, Queryable, QueryResult } from '../db.js';
import { quoteIdent } from '../db.js';

/** The suffix of wake-ups that only the database sends: heard from PostgreSQL alone. */
const RELAY_ONLY = '\treleased';

export interface PostgresDbOptions {
  connectionString: string;
  schema: string;
  /** Pool size; a worker process rarely needs more than a few. */
  max?: number;
  /** Existing pool (the caller owns it); search_path is then set per query scope by the caller's config. */
  pool?: pg.Pool;
  /** application_name of the pool's connections (default gaffer); the LISTEN connection adds `-listen`. */
  applicationName?: string;
}

// int8 (counts) as JS numbers: Gaffer's counts and sequences stay far below 2^53.
pg.types.setTypeParser(20, (v) => Number.parseInt(v, 10));

export class PostgresDb implements Db {
  readonly kind = 'postgres' as const;
  readonly pool: pg.Pool;
  private readonly ownsPool: boolean;
  private listener: pg.Client | null = null;
  private listenerReady: Promise<pg.Client> | null = null;
  private readonly channels = new Map<string, Set<(payload: string) => void>>();
  private closed = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  /** Signals of open transactions, heard in this process once they commit. */
  private readonly pending = new WeakMap<Queryable, Array<[string, string]>>();
  /** Queryables of scope(): each statement has committed when it returns. */
  private readonly scopes = new WeakSet<Queryable>();
  /** Backend pids of this pool's connections: their notifications were heard here already. */
  private readonly ownPids = new Set<number>();
  /**
   * By channel and payload: signals of our own commits heard here whose relay by PostgreSQL is still
   * to come (above 0), or relays that came first and were heard then (below 0). Either way each
   * signal is heard once, whichever arrives first.
   */
  private readonly echoes = new Map<string, number>();

  constructor(private readonly opts: PostgresDbOptions) {
    quoteIdent(opts.schema);
    this.ownsPool = !opts.pool;
    this.pool =
      opts.pool ??
      new pg.Pool({
        connectionString: opts.connectionString,
        max: opts.max ?? 10,
        // A database host that stops answering (rather than refusing) must fail requests fast
        // (503 with the reason), not hang them until the operating system's TCP timeout.
        connectionTimeoutMillis: 10_000,
        keepAlive: true,
        options: `-c search_path=${opts.schema}`,
        application_name: opts.applicationName ?? 'gaffer',
      });
    // A pooled client that dies while idle (database restart) must not crash the process.
    this.pool.on('error', () => {});
    const pid = (c: pg.PoolClient) => (c as unknown as { processID?: number }).processID;
    this.pool.on('connect', (c) => {
      const p = pid(c);
      if (p !== undefined) this.ownPids.add(p);
    });
    this.pool.on('remove', (c) => {
      const p = pid(c);
      if (p !== undefined) this.ownPids.delete(p);
    });
  }

  connectionInfo(): { connectionString: string; applicationName: string } | null {
    if (!this.ownsPool) return null;
    return {
      connectionString: this.opts.connectionString,
      applicationName: this.opts.applicationName ?? 'gaffer',
    };
  }

  async query<R>(sql: string, params?: unknown[]): Promise<QueryResult<R>> {
    const res = await this.pool.query(sql, params as unknown[]);
    return { rows: res.rows as R[], rowCount: res.rowCount ?? 0 };
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    // A checked-out client has no pool listener: a connection that dies between two statements
    // (terminated backend, database restart) would emit an unhandled 'error' and crash the
    // process. Note it instead (the next statement fails anyway) and drop the client on release.
    let broken = false;
    const onError = () => {
      broken = true;
    };
    client.on('error', onError);
    const release = (destroy: boolean) => {
      client.release(destroy || broken);
      client.off('error', onError);
    };
    const signals: Array<[string, string]> = [];
    try {
      await client.query('begin');
      const tx: Queryable = {
        query: async <R>(sql: string, params?: unknown[]) => {
          const res = await client.query(sql, params as unknown[]);
          return { rows: res.rows as R[], rowCount: res.rowCount ?? 0 };
        },
        exec: async (sql: string) => {
          await client.query(sql);
        },
      };
      this.pending.set(tx, signals);
      const out = await fn(tx);
      await client.query('commit');
      release(false);
      for (const [channel, payload] of signals) this.hear(channel, payload);
      return out;
    } catch (err) {
      try {
        await client.query('rollback');
        release(false);
      } catch {
        release(true);
      }
      throw err;
    }
  }

  async exec(sql: string): Promise<void> {
    await this.pool.query(sql);
  }

  async notifyInTransaction(tx: Queryable, channel: string, payload: string): Promise<void> {
    await tx.query('select pg_notify($1, $2)', [channel, payload]);
    this.signalledInTransaction(tx, channel, payload);
  }

  /**
   * Listeners here hear a signal of this process's own commit at once; PostgreSQL's relay of it
   * comes later and is then skipped. A transaction that is not this driver's (a caller's own, for
   * transactional enqueue) is left to the relay: only PostgreSQL knows when it commits.
   */
  signalledInTransaction(tx: Queryable, channel: string, payload: string): void {
    const list = this.pending.get(tx);
    if (list) list.push([channel, payload]);
    else if (this.scopes.has(tx)) this.hear(channel, payload);
  }

  scope(): Queryable {
    const q: Queryable = { query: (sql, params) => this.query(sql, params), exec: (sql) => this.exec(sql) };
    this.scopes.add(q);
    return q;
  }

  /** A signal of our own commit, heard here unless its relay came first. */
  private hear(channel: string, payload: string): void {
    const fns = this.channels.get(channel);
    if (!fns || fns.size === 0) return;
    if (this.match(`${channel}\u0000${payload}`, 1)) for (const f of fns) f(payload);
  }

  /** Counts one side of a (commit, relay) pair; true when it is the first of the two to arrive. */
  private match(key: string, side: 1 | -1): boolean {
    const n = this.echoes.get(key) ?? 0;
    const next = n + side;
    if (next === 0) this.echoes.delete(key);
    else this.echoes.set(key, next);
    return Math.sign(n) !== -side;
  }

  async listen(channel: string, fn: (payload: string) => void): Promise<() => Promise<void>> {
    let set = this.channels.get(channel);
    const isNew = !set;
    if (!set) {
      set = new Set();
      this.channels.set(channel, set);
    }
    set.add(fn);
    const client = await this.ensureListener();
    if (isNew) await client.query(`listen ${quoteIdent(channel)}`);
    return async () => {
      set.delete(fn);
    };
  }

  /** One dedicated LISTEN connection, re-opened (and re-subscribed) whenever it drops. */
  private ensureListener(): Promise<pg.Client> {
    if (this.listenerReady) return this.listenerReady;
    this.listenerReady = (async () => {
      const client = new pg.Client({
        connectionString: this.opts.connectionString,
        application_name: `${this.opts.applicationName ?? 'gaffer'}-listen`,
        connectionTimeoutMillis: 10_000,
        keepAlive: true,
      });
      client.on('notification', (msg) => {
        const payload = msg.payload ?? '';
        // A relay of our own commit is heard when the commit returns (hear), or now if it comes first.
        // A wake-up only the SQL sends (released dependents, migration 0008) has no in-process twin.
        const relayOnly = payload.endsWith(RELAY_ONLY);
        if (
          !relayOnly &&
          this.ownPids.has(msg.processId) &&
          !this.match(`${msg.channel}\u0000${payload}`, -1)
        )
          return;
        const fns = this.channels.get(msg.channel);
        if (fns) for (const f of fns) f(payload);
      });
      client.on('error', () => this.dropListener());
      client.on('end', () => this.dropListener());
      await client.connect();
      for (const ch of this.channels.keys()) await client.query(`listen ${quoteIdent(ch)}`);
      this.listener = client;
      // Wake everyone after a reconnect: notifications sent while we were away are lost.
      for (const [, fns] of this.channels) for (const f of fns) f('');
      return client;
    })();
    this.listenerReady.catch(() => this.dropListener());
    return this.listenerReady;
  }

  private dropListener(): void {
    // Relays sent while the listener is away are lost: the pairs still open will never close.
    this.echoes.clear();
    if (this.listener) {
      this.listener.removeAllListeners('notification');
      this.listener.end().catch(() => {});
    }
    this.listener = null;
    this.listenerReady = null;
    if (this.closed || this.channels.size === 0 || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.closed) this.ensureListener().catch(() => {});
    }, 500);
    this.reconnectTimer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const l = this.listener;
    this.listener = null;
    if (l) await l.end().catch(() => {});
    if (this.ownsPool) await this.pool.end();
  }
}
