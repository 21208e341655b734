import type { HttpOptions } from '../client/http-caller.js';
import type { ThreadConnectionSpec } from '../store/store.js';
import type { AttemptRef, HeartbeatResult, WorkerStats } from '../store/types.js';

/** How the heartbeat thread reaches Gaffer: a connection of its own, never the main thread's. */
export type ThreadConnection =
  | { kind: 'http'; options: HttpOptions }
  | ({ kind: 'postgres' } & ThreadConnectionSpec);

/**
 * Main thread → heartbeat thread. One thread serves every Worker of the process, each in a slot of its
 * own: `attach` opens the slot (with its connection, interval and the main loop's lag buffer,
 * loop-lag.ts), `detach` closes it.
 */
export type ThreadMessage =
  | {
      type: 'attach';
      slot: number;
      connection: ThreadConnection;
      intervalMs: number;
      shared: SharedArrayBuffer;
    }
  | { type: 'held'; slot: number; workerId: string | null; held: AttemptRef[]; stats: WorkerStats }
  | { type: 'interval'; slot: number; intervalMs: number }
  | { type: 'detach'; slot: number };

/** Heartbeat thread → main thread, for one slot. */
export type ThreadReply =
  | { type: 'ready'; slot: number }
  | { type: 'failed'; slot: number; message: string }
  | { type: 'result'; slot: number; workerId: string; result: HeartbeatResult }
  | { type: 'error'; slot: number; workerId: string; message: string }
  | { type: 'closed'; slot: number };
