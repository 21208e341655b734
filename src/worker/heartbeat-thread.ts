/**
 * The heartbeat thread (worker_threads): sends the heartbeats of every Worker in the process, each on
 * a connection of its own (shared by Workers that connect alike), so a handler that keeps the main event
 * loop busy (CPU-bound work) neither delays them nor lets its leases lapse. One thread for all: a thread
 * per Worker cost 500 Workers in one process 500 V8 isolates (6.7 GB) and a saturated main loop. The
 * main thread tells it what each worker holds (when it changes); while the main loop is blocked the
 * thread goes on renewing the last list it got, and reports the stall it reads from the shared clock
 * (loop-lag.ts) as the worker's event-loop lag. Answers (cancellations, lost attempts, liveness) go back
 * as messages, handled once the loop is free.
 */
import { parentPort } from 'node:worker_threads';
import type { AttemptRef, HeartbeatResult, LivenessReport, WorkerStats } from '../store/types.js';
import type { ThreadConnection, ThreadMessage, ThreadReply } from './heartbeat-thread-types.js';
import { readLoopLag } from './loop-lag.js';

interface BeatParams {
  workerId: string;
  held: AttemptRef[];
  stats?: WorkerStats;
  liveness: LivenessReport;
}

interface Connection {
  heartbeat(p: BeatParams): Promise<HeartbeatResult>;
  close(): Promise<void>;
}

async function open(spec: ThreadConnection): Promise<Connection> {
  if (spec.kind === 'http') {
    const { HttpTransport } = await import('./http-transport.js');
    const t = new HttpTransport(spec.options);
    return { heartbeat: (p) => t.heartbeat(p), close: () => t.close() };
  }
  // No LISTEN connection and no migrations: a pool of one connection that only heartbeats.
  const [{ PostgresDb }, { SqlStore }, { DEFAULT_STORE_OPTIONS }] = await Promise.all([
    import('../store/postgres/driver.js'),
    import('../store/sql-store.js'),
    import('../store/store.js'),
  ]);
  const db = new PostgresDb({
    connectionString: spec.connectionString,
    schema: spec.schema,
    max: 1,
    applicationName: `${spec.applicationName}-heartbeat`,
  });
  const store = new SqlStore(db, {
    ...DEFAULT_STORE_OPTIONS,
    schema: spec.schema,
    leaseMs: spec.leaseMs,
    staleAfterMs: spec.staleAfterMs,
  });
  return { heartbeat: (p) => store.heartbeat(p), close: () => store.close() };
}

/** Connections by their spec, opened once and closed with the last slot that uses them. */
const connections = new Map<string, { conn: Promise<Connection>; refs: number }>();

function acquire(spec: ThreadConnection): { key: string; conn: Promise<Connection> } {
  const key = JSON.stringify(spec);
  let c = connections.get(key);
  if (!c) {
    c = { conn: open(spec), refs: 0 };
    connections.set(key, c);
  }
  c.refs++;
  return { key, conn: c.conn };
}

async function release(key: string): Promise<void> {
  const c = connections.get(key);
  if (!c || --c.refs > 0) return;
  connections.delete(key);
  await (await c.conn.catch(() => null))?.close();
}

interface Slot {
  key: string;
  conn: Connection | null;
  shared: SharedArrayBuffer;
  workerId: string | null;
  held: AttemptRef[];
  stats: WorkerStats | undefined;
  timer: NodeJS.Timeout | null;
  inFlight: boolean;
  closing: boolean;
}

const slots = new Map<number, Slot>();
const reply = (m: ThreadReply) => parentPort!.postMessage(m);

async function beat(id: number, s: Slot): Promise<void> {
  if (!s.conn || !s.workerId || s.inFlight || s.closing) return;
  s.inFlight = true;
  const workerId = s.workerId;
  try {
    const result = await s.conn.heartbeat({
      workerId,
      held: s.held,
      stats: s.stats,
      liveness: { eventLoopLagMs: readLoopLag(s.shared), heartbeatThread: true, held: s.held.length },
    });
    reply({ type: 'result', slot: id, workerId, result });
  } catch (err) {
    reply({ type: 'error', slot: id, workerId, message: String(err) });
  } finally {
    s.inFlight = false;
  }
}

function every(id: number, s: Slot, intervalMs: number): void {
  if (s.timer) clearInterval(s.timer);
  s.timer = setInterval(() => void beat(id, s), intervalMs);
}

parentPort!.on('message', (m: ThreadMessage) => {
  if (m.type === 'attach') {
    const { key, conn } = acquire(m.connection);
    const s: Slot = {
      key,
      conn: null,
      shared: m.shared,
      workerId: null,
      held: [],
      stats: undefined,
      timer: null,
      inFlight: false,
      closing: false,
    };
    slots.set(m.slot, s);
    conn.then(
      (c) => {
        if (s.closing) return;
        s.conn = c;
        every(m.slot, s, m.intervalMs);
        reply({ type: 'ready', slot: m.slot });
        void beat(m.slot, s);
      },
      (err: unknown) => reply({ type: 'failed', slot: m.slot, message: String(err) }),
    );
    return;
  }
  const s = slots.get(m.slot);
  if (!s) return;
  if (m.type === 'held') {
    s.held = m.held;
    s.stats = m.stats;
    if (m.workerId !== s.workerId) {
      s.workerId = m.workerId;
      void beat(m.slot, s);
    }
  } else if (m.type === 'interval') {
    if (s.conn) every(m.slot, s, m.intervalMs);
  } else if (m.type === 'detach') {
    s.closing = true;
    if (s.timer) clearInterval(s.timer);
    slots.delete(m.slot);
    void release(s.key).finally(() => reply({ type: 'closed', slot: m.slot }));
  }
});
