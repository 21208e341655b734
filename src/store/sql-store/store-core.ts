import type { Db, Queryable } from '../db.js';
import { migrate } from '../migrate.js';
import type * as O from '../observability.js';
import { bindEvents } from '../sql/events.js';
import { bindWake, parseWake, wakeChannel } from '../sql/wake.js';
import type { StoreOptions, ThreadConnectionSpec } from '../store.js';
import type * as T from '../types.js';

/**
 * What every part of the SQL store shares: the driver, the options, transactions that carry
 * wake-ups and domain events, and the listeners. The store's operations build on it in three
 * layers, one file per group (task-ops, worker-ops, then SqlStore itself).
 */
export abstract class SqlStoreCore {
  readonly kind: 'postgres' | 'pglite';
  protected readonly channel: string;
  protected readonly wakeListeners = new Set<T.WakeListener>();
  protected readonly eventListeners = new Set<O.StoreEventListener>();
  private unlisten: (() => Promise<void>) | null = null;

  constructor(
    readonly db: Db,
    readonly options: StoreOptions,
  ) {
    this.kind = db.kind;
    this.channel = wakeChannel(options.schema);
  }

  /** Subscribes to wake-ups; called once by the factory. */
  async start(): Promise<void> {
    this.unlisten = await this.db.listen(this.channel, (payload) => {
      const wake = parseWake(payload);
      for (const l of this.wakeListeners) l(wake);
    });
  }

  protected async tx<R>(fn: (tx: Queryable) => Promise<R>): Promise<R> {
    // Events are collected only while someone listens, and published only after commit.
    if (this.eventListeners.size === 0)
      return this.db.transaction((tx) => fn(bindWake(tx, this.db, this.channel)));
    const events: O.StoreEvent[] = [];
    const out = await this.db.transaction((tx) =>
      fn(bindEvents(bindWake(tx, this.db, this.channel), events)),
    );
    this.publish(events);
    return out;
  }

  /** Like tx, for work that is a single statement: it runs outside an explicit transaction. */
  protected async statement<R>(fn: (q: Queryable) => Promise<R>): Promise<R> {
    const q = bindWake(this.db.scope(), this.db, this.channel);
    if (this.eventListeners.size === 0) return fn(q);
    const events: O.StoreEvent[] = [];
    const out = await fn(bindEvents(q, events));
    this.publish(events);
    return out;
  }

  onWake(listener: T.WakeListener): () => void {
    this.wakeListeners.add(listener);
    return () => this.wakeListeners.delete(listener);
  }

  onEvent(listener: O.StoreEventListener): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /** An observer's failure must never fail the store call that already committed. */
  protected publish(events: O.StoreEvent[]): void {
    for (const ev of events) {
      for (const l of this.eventListeners) {
        try {
          l(ev);
        } catch {
          // Observers log and count; losing one event beats failing a committed write.
        }
      }
    }
  }

  migrate(): Promise<string[]> {
    return migrate(this.db, this.options.schema);
  }

  /** Embedded store: writes the server's URL into the data directory's lock, for admin commands to find. */
  advertiseServer(url: string): void {
    (this.db as { lock?: { advertise(url: string): void } | null }).lock?.advertise(url);
  }

  /**
   * How a worker's heartbeat thread opens a connection of its own to this database; null on the
   * embedded store (its database lives in this thread's memory) or over a pool the caller passed in.
   */
  threadConnection(): ThreadConnectionSpec | null {
    const info = this.db.connectionInfo?.();
    if (!info) return null;
    const { schema, leaseMs, staleAfterMs } = this.options;
    return { ...info, schema, leaseMs, staleAfterMs };
  }

  async close(): Promise<void> {
    if (this.unlisten) await this.unlisten();
    await this.db.close();
  }
}
