/** The only surface the SQL code needs from a driver. */
export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

export interface Queryable {
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<R>>;
  /** Runs a script of several statements, no parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface Db extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /** Runs fn in one transaction; rolls back if it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Delivers NOTIFY payloads of a channel (PostgreSQL), or in-process signals (PGlite). */
  listen(channel: string, fn: (payload: string) => void): Promise<() => Promise<void>>;
  /**
   * Signal sent after a transaction commits; on PostgreSQL this is pg_notify inside the transaction.
   * Listeners in this process hear it as soon as the commit returns (a transaction of `transaction()`
   * or a statement of `scope()`), without waiting for PostgreSQL to relay it back.
   */
  notifyInTransaction(tx: Queryable, channel: string, payload: string): Promise<void>;
  /** A signal the SQL sent itself (pg_notify inside a statement on `tx`): heard in this process as above. */
  signalledInTransaction(tx: Queryable, channel: string, payload: string): void;
  /** How to open another connection like this driver's (PostgreSQL with a pool of its own); absent or null otherwise. */
  connectionInfo?(): { connectionString: string; applicationName: string } | null;
  /** A Queryable whose statements each commit on their own (no transaction around them). */
  scope(): Queryable;
  close(): Promise<void>;
}

/** Quotes an SQL identifier (schema names come from configuration, never from requests). */
export function quoteIdent(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) {
    throw new Error(`invalid schema name ${JSON.stringify(name)}: use lowercase letters, digits and _`);
  }
  return `"${name}"`;
}
