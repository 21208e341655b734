import type { Db, Queryable } from '../db.js';

/**
 * Wake-ups: one channel per store schema; the payload is the queue name. The
 * driver turns this into pg_notify (PostgreSQL) or an in-process signal after
 * commit (PGlite). The store binds each transaction it opens to its db and
 * channel, so SQL helpers can signal without knowing the driver.
 */
const byTx = new WeakMap<Queryable, { db: Db; channel: string }>();

export function wakeChannel(schema: string): string {
  return `gaffer_wake_${schema}`;
}

export function bindWake(tx: Queryable, db: Db, channel: string): Queryable {
  byTx.set(tx, { db, channel });
  return tx;
}

/**
 * The channel a statement on `tx` may notify itself with pg_notify (PostgreSQL), saving a round
 * trip; null on PGlite, whose wake-ups are signalled in process (notifyQueue).
 */
export function sqlWakeChannel(tx: Queryable): string | null {
  const target = byTx.get(tx);
  return target?.db.kind === 'postgres' ? target.channel : null;
}

/** Signals after commit that `queue` may have runnable work; at most once per queue per transaction. */
export async function notifyQueue(tx: Queryable, queue: string): Promise<void> {
  const target = byTx.get(tx);
  if (!target || !firstFor(tx, queue)) return;
  await target.db.notifyInTransaction(tx, target.channel, queue);
}

/** The statement on `tx` notified `queue` itself (sqlWakeChannel): this process hears it after commit too. */
export function queueNotified(tx: Queryable, queue: string): void {
  const target = byTx.get(tx);
  if (!target || !firstFor(tx, queue)) return;
  target.db.signalledInTransaction(tx, target.channel, queue);
}

function firstFor(tx: Queryable, queue: string): boolean {
  const sent = notified.get(tx) ?? new Set<string>();
  if (sent.has(queue)) return false;
  sent.add(queue);
  notified.set(tx, sent);
  return true;
}

const notified = new WeakMap<Queryable, Set<string>>();
