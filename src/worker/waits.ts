import type { ChildResult, ClaimedTask } from '../store/types.js';
import type { ContextActions } from './handler-context.js';
import { wakeOf } from './handler-context.js';
import type { WorkerTransport } from './transport.js';

/** What a transport must offer for a handler to wait (spawnAndWait, waitForSignal). */
function need<K extends 'spawn' | 'waitForSignal' | 'childResults'>(
  transport: WorkerTransport,
  name: K,
): NonNullable<WorkerTransport[K]> {
  const fn = transport[name];
  if (!fn) throw new Error(`this worker's transport has no ${name}(): use DirectTransport or HttpTransport`);
  return fn.bind(transport) as NonNullable<WorkerTransport[K]>;
}

/** The handler context's waits, over the worker's transport; `workerId` is read when they are used. */
export function waitActions(
  transport: () => WorkerTransport,
  workerId: () => string | undefined,
): Pick<ContextActions, 'spawn' | 'waitForSignal'> {
  return {
    spawn: (task, children, onChildFailure) =>
      need(
        transport(),
        'spawn',
      )({ taskId: task.id, attempt: task.attempt, workerId: workerId(), children, onChildFailure }),
    waitForSignal: (task, opts) =>
      need(
        transport(),
        'waitForSignal',
      )({ taskId: task.id, attempt: task.attempt, workerId: workerId(), ...opts }),
  };
}

/** The children's results when this attempt resumes after them; undefined (no call) for any other task. */
export async function childResultsFor(
  transport: WorkerTransport,
  task: ClaimedTask,
  workerId: string | undefined,
): Promise<ChildResult[] | undefined> {
  const wake = wakeOf(task);
  if (wake?.kind !== 'children') return undefined;
  return need(
    transport,
    'childResults',
  )({ taskId: task.id, attempt: task.attempt, workerId, round: wake.round });
}
