import type pg from 'pg';
import { type Queryable, quoteIdent } from './db.js';

/** The part of a caller's `pg` client that Gaffer's statements use: a `pg.Client` or `pg.PoolClient`. */
export type CallerClient = Pick<pg.ClientBase, 'query'>;

/**
 * Runs Gaffer statements on the caller's own `pg` client, inside the transaction the caller opened
 * (transactional enqueue, completion inside the handler's transaction): Gaffer's schema is put first
 * on the search path for these statements only (`set_config(..., true)`, local to the transaction),
 * then the caller's path is restored.
 */
export async function onCallerClient<T>(
  schema: string,
  client: CallerClient,
  fn: (tx: Queryable) => Promise<T>,
): Promise<T> {
  const quoted = quoteIdent(schema);
  const before = await client.query<{ path: string }>(`select current_setting('search_path') as path`);
  const path = before.rows[0]?.path ?? 'public';
  await client.query(`select set_config('search_path', $1, true)`, [`${quoted}, ${path}`]);
  const tx: Queryable = {
    query: async (sql, params) => {
      const r = await client.query(sql, params as unknown[]);
      return { rows: r.rows, rowCount: r.rowCount ?? 0 };
    },
    exec: async (sql) => {
      await client.query(sql);
    },
  };
  try {
    return await fn(tx);
  } finally {
    await client.query(`select set_config('search_path', $1, true)`, [path]);
  }
}
