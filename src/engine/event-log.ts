import type { Level } from 'pino';
import type { StoreEvent, StoreEventName } from '../store/observability.js';
import type { Store } from '../store/store.js';
import type { Logger } from './logger.js';

/**
 * Levels of the store's events as log lines. The three that happen once per task
 * on the hot path are debug, so a busy server does not write three lines per task
 * unless asked (GAFFER_LOG_LEVEL=debug); the worker SDK logs claims and completions
 * at info on its own side. Anything that needs a look is warn.
 */
export const EVENT_LEVELS: Record<StoreEventName, Level> = {
  task_created: 'debug',
  task_claimed: 'debug',
  task_completed: 'debug',
  task_failed: 'warn',
  retry_scheduled: 'info',
  dead_lettered: 'warn',
  task_retried_by_hand: 'info',
  task_cancelled: 'info',
  task_waiting: 'debug',
  task_signalled: 'info',
  lease_lost: 'warn',
  worker_registered: 'info',
  worker_stale: 'warn',
  worker_deregistered: 'info',
};

function message(e: StoreEvent): string {
  switch (e.event) {
    case 'task_created':
      return 'task created';
    case 'task_claimed':
      return 'task claimed';
    case 'task_completed':
      return 'task completed';
    case 'task_failed':
      return e.final ? `attempt ${e.outcome}; task is ${e.status}` : `attempt ${e.outcome}; will retry`;
    case 'retry_scheduled':
      return `retry scheduled in ${e.delayMs} ms`;
    case 'dead_lettered':
      return `task dead-lettered after ${e.attempts} attempts`;
    case 'task_retried_by_hand':
      return `task retried by hand by ${e.by}`;
    case 'task_cancelled':
      return 'task cancelled';
    case 'task_waiting':
      return e.kind === 'children' ? 'task waits for its children' : 'task waits for a signal';
    case 'task_signalled':
      return 'task signalled';
    case 'lease_lost':
      return `lease lost: ${e.reason}`;
    case 'worker_registered':
      return 'worker registered';
    case 'worker_stale':
      return `worker stale: ${e.reason}`;
    case 'worker_deregistered':
      return `worker ${e.reason}`;
  }
}

/**
 * Writes one log line per store event of this process, named by the event and
 * carrying its task, session and worker ids. Returns the unsubscribe.
 */
export function logStoreEvents(
  store: Pick<Store, 'onEvent'>,
  log: Logger,
  levels: Partial<Record<StoreEventName, Level>> = {},
): () => void {
  const table = { ...EVENT_LEVELS, ...levels };
  return store.onEvent((e) => {
    const level = table[e.event];
    // Skip building the line when the level is off (the hot-path events, usually).
    if (!log.isLevelEnabled(level)) return;
    log[level](e, message(e));
  });
}
