import type { HttpOptions } from '../client/http-caller.js';
import type { ThreadConnectionSpec } from '../store/store.js';
import type { AttemptRef, HeartbeatResult, WorkerStats } from '../store/types.js';

/** How the heartbeat thread reaches Gaffer: a connection of its own, never the main thread's. */
export type ThreadConnection =
  | { kind: 'http'; options: HttpOptions }
  | ({ kind: 'postgres' } & ThreadConnectionSpec);

export interface HeartbeatThreadInput {
  connection: ThreadConnection;
  intervalMs: number;
  /** The main loop's clock and worst delay (loop-lag.ts). */
  shared: SharedArrayBuffer;
}

/** Main thread → heartbeat thread. */
export type ThreadMessage =
  | { type: 'held'; workerId: string | null; held: AttemptRef[]; stats: WorkerStats }
  | { type: 'interval'; intervalMs: number }
  | { type: 'stop' };

/** Heartbeat thread → main thread. */
export type ThreadReply =
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  | { type: 'result'; workerId: string; result: HeartbeatResult }
  | { type: 'error'; workerId: string; message: string }
  | { type: 'closed' };
