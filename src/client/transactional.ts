import type pg from 'pg';
import { onCallerClient } from '../store/caller-transaction.js';
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
  return onCallerClient(store.options.schema, client, (tx) =>
    store.createTasksIn(tx, { tasks, retry: opts.retry }),
  );
}
