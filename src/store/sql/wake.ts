import type { Db, Queryable } from '../db.js';
import type { Wake } from '../types.js';

/**
 * Wake-ups: one channel per store schema; each payload names a queue, a task type and how many
 * tasks of it became runnable (`queue\ttype\tcount`; names never hold a tab), so a listener wakes
 * only as many claims, of that type and queue, as there is work. The driver turns this into
 * pg_notify (PostgreSQL) or an in-process signal after commit (PGlite). The store binds each
 * transaction it opens to its db and channel, so SQL helpers can signal without knowing the driver.
 */
const byTx = new WeakMap<Queryable, { db: Db; channel: string }>();

export function wakeChannel(schema: string): string {
  return `gaffer_wake_${schema}`;
}

export function bindWake(tx: Queryable, db: Db, channel: string): Queryable {
  byTx.set(tx, { db, channel });
  return tx;
}

/** The payload of a wake-up; insert_tasks (migration 0005) builds the same text in SQL. */
export function wakePayload(queue: string, type: string, count: number): string {
  return `${queue}\t${type}\t${count}`;
}

/**
 * A payload as listeners get it: '' (sent on reconnect) is null, anything may have changed. A fourth
 * field `in=<ms>` (a rate window that opens then, migration 0016) delays the wake-up.
 */
export function parseWake(payload: string): Wake | null {
  if (payload === '') return null;
  const [queue = '', type, count, extra] = payload.split('\t');
  // A payload of an older server names only the queue.
  if (type === undefined) return { queue, type: null, count: Number.POSITIVE_INFINITY };
  const n = Number(count);
  const wake: Wake = { queue, type, count: Number.isFinite(n) && n > 0 ? n : Number.POSITIVE_INFINITY };
  const delay = extra?.startsWith('in=') ? Number(extra.slice(3)) : Number.NaN;
  if (delay > 0 && delay <= MAX_WAKE_DELAY_MS) wake.delayMs = delay;
  return wake;
}

/** Longer delays than this are not kept as timers (the fallback poll finds that work). */
const MAX_WAKE_DELAY_MS = 3_600_000;

/**
 * The channel a statement on `tx` may notify itself with pg_notify (PostgreSQL), saving a round
 * trip; null on PGlite, whose wake-ups are signalled in process (notifyWork).
 */
export function sqlWakeChannel(tx: Queryable): string | null {
  const target = byTx.get(tx);
  return target?.db.kind === 'postgres' ? target.channel : null;
}

/** Signals after commit that these counts of tasks may be claimable now (a resume, a raised limit). */
export async function notifyCounts(tx: Queryable, wakes: Iterable<Wake>): Promise<void> {
  const target = byTx.get(tx);
  if (!target) return;
  for (const w of wakes) {
    const payload = wakePayload(w.queue, w.type!, w.count);
    if (firstFor(tx, payload)) await target.db.notifyInTransaction(tx, target.channel, payload);
  }
}

/** The tasks counted by (queue, type), as wake-ups name them. */
export function countWork(tasks: Iterable<{ queue: string; type: string }>): Map<string, Wake> {
  const out = new Map<string, Wake>();
  for (const t of tasks) {
    const key = `${t.queue}\t${t.type}`;
    const w = out.get(key);
    if (w) w.count++;
    else out.set(key, { queue: t.queue, type: t.type, count: 1 });
  }
  return out;
}

/** Signals after commit that these tasks became runnable, one wake-up per (queue, type). */
export async function notifyWork(
  tx: Queryable,
  tasks: Iterable<{ queue: string; type: string }>,
): Promise<void> {
  const target = byTx.get(tx);
  if (!target) return;
  for (const w of countWork(tasks).values()) {
    const payload = wakePayload(w.queue, w.type!, w.count);
    if (firstFor(tx, payload)) await target.db.notifyInTransaction(tx, target.channel, payload);
  }
}

/** The statement on `tx` notified these tasks itself (sqlWakeChannel): this process hears it after commit too. */
export function workNotified(tx: Queryable, tasks: Iterable<{ queue: string; type: string }>): void {
  const target = byTx.get(tx);
  if (!target) return;
  for (const w of countWork(tasks).values()) {
    const payload = wakePayload(w.queue, w.type!, w.count);
    if (firstFor(tx, payload)) target.db.signalledInTransaction(tx, target.channel, payload);
  }
}

/** PostgreSQL delivers one of several equal notifications of a transaction; so do we. */
function firstFor(tx: Queryable, payload: string): boolean {
  const sent = notified.get(tx) ?? new Set<string>();
  if (sent.has(payload)) return false;
  sent.add(payload);
  notified.set(tx, sent);
  return true;
}

const notified = new WeakMap<Queryable, Set<string>>();
