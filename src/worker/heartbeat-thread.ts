/**
 * The heartbeat thread (worker_threads): sends the Worker's heartbeats on a connection of its own, so a
 * handler that keeps the main event loop busy (CPU-bound work) neither delays them nor lets its leases
 * lapse. The main thread tells it what the worker holds (messages sent when tasks are claimed and on
 * a short timer); while the main loop is blocked the thread goes on renewing the last list it got,
 * and reports the stall it reads from the shared clock (loop-lag.ts) as the worker's event-loop lag.
 * Answers (cancellations, lost attempts, liveness) go back as messages, handled once the loop is free.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { AttemptRef, HeartbeatResult, LivenessReport, WorkerStats } from '../store/types.js';
import type { HeartbeatThreadInput, ThreadMessage, ThreadReply } from './heartbeat-thread-types.js';
import { readLoopLag } from './loop-lag.js';

const input = workerData as HeartbeatThreadInput;
let workerId: string | null = null;
let held: AttemptRef[] = [];
let stats: WorkerStats | undefined;
let closing = false;

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

async function open(): Promise<Connection> {
  if (input.connection.kind === 'http') {
    const { HttpTransport } = await import('./http-transport.js');
    const t = new HttpTransport(input.connection.options);
    return { heartbeat: (p) => t.heartbeat(p), close: () => t.close() };
  }
  const c = input.connection;
  // No LISTEN connection and no migrations: a pool of one connection that only heartbeats.
  const [{ PostgresDb }, { SqlStore }, { DEFAULT_STORE_OPTIONS }] = await Promise.all([
    import('../store/postgres/driver.js'),
    import('../store/sql-store.js'),
    import('../store/store.js'),
  ]);
  const db = new PostgresDb({
    connectionString: c.connectionString,
    schema: c.schema,
    max: 1,
    applicationName: `${c.applicationName}-heartbeat`,
  });
  const store = new SqlStore(db, {
    ...DEFAULT_STORE_OPTIONS,
    schema: c.schema,
    leaseMs: c.leaseMs,
    staleAfterMs: c.staleAfterMs,
  });
  return {
    heartbeat: (p) => store.heartbeat(p),
    close: () => store.close(),
  };
}

const reply = (m: ThreadReply) => parentPort!.postMessage(m);

const connection = await open().catch((err: unknown) => {
  reply({ type: 'failed', message: String(err) });
  return null;
});

if (connection) {
  const send = (p: BeatParams) => connection.heartbeat(p);
  let inFlight = false;
  const beat = async () => {
    if (!workerId || inFlight || closing) return;
    inFlight = true;
    const id = workerId;
    try {
      const res = await send({
        workerId: id,
        held,
        stats,
        liveness: { eventLoopLagMs: readLoopLag(input.shared), heartbeatThread: true, held: held.length },
      });
      reply({ type: 'result', workerId: id, result: res });
    } catch (err) {
      reply({ type: 'error', workerId: id, message: String(err) });
    } finally {
      inFlight = false;
    }
  };
  let timer = setInterval(() => void beat(), input.intervalMs);
  parentPort!.on('message', (m: ThreadMessage) => {
    if (m.type === 'held') {
      held = m.held;
      stats = m.stats;
      if (m.workerId !== workerId) {
        workerId = m.workerId;
        void beat();
      }
    } else if (m.type === 'interval') {
      clearInterval(timer);
      timer = setInterval(() => void beat(), m.intervalMs);
    } else if (m.type === 'stop') {
      closing = true;
      clearInterval(timer);
      void connection.close().finally(() => {
        reply({ type: 'closed' });
        parentPort!.close();
      });
    }
  });
  reply({ type: 'ready' });
}
