import type pg from 'pg';
import type { Queryable } from '../store/db.js';
import { quoteIdent } from '../store/db.js';
import type { SqlStore } from '../store/sql-store.js';
import type { CreateTasksResult, NewTask } from '../store/types.js';

/**
 * Transactional enqueue (R1.5): creates tasks on the caller's own pg client,
 * inside the transaction the caller opened, so an application row and its
 * tasks commit or roll back together. Gaffer's schema is put first on the
 * search path only for these statements, then the caller's path is restored.
 *
 * ```ts
 * await client.query('begin');
 * await client.query('insert into predictions ...');
 * await enqueueInTransaction(store, client, [{ type: 'predict', payload }]);
 * await client.query('commit');
 * ```
 */
export async function enqueueInTransaction(
  store: SqlStore,
  client: pg.ClientBase,
  tasks: NewTask[],
  opts: { retry?: boolean } = {},
): Promise<CreateTasksResult> {
  if (store.kind !== 'postgres') throw new Error('transactional enqueue needs the PostgreSQL store');
  const schema = quoteIdent(store.options.schema);
  const before = await client.query<{ path: string }>(`select current_setting('search_path') as path`);
  const path = before.rows[0]?.path ?? 'public';
  await client.query(`select set_config('search_path', $1, true)`, [`${schema}, ${path}`]);
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
    return await store.createTasksIn(tx, { tasks, retry: opts.retry });
  } finally {
    await client.query(`select set_config('search_path', $1, true)`, [path]);
  }
}
