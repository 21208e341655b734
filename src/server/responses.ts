import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { JsonObject, JsonValue, Status, Tracking } from './schemas.js';

/**
 * The response shapes of the HTTP API. They document: the server serialises with plain
 * JSON.stringify for speed, and test/server checks real answers against these schemas so the
 * OpenAPI document stays true. The request shapes, which validate, are in schemas.ts.
 */

// Responses (documentation; see the note at the top)

// z.date() is documented as an ISO 8601 date-time string (which JSON.stringify makes of a Date).
const DateString = z.date();
const NullableDate = DateString.nullable();

export const TaskErrorOut = z.object({
  message: z.string(),
  name: z.string().optional(),
  retryable: z.boolean().optional(),
  kind: z.string().optional(),
  stack: z.string().optional(),
});

export const TaskOut = z
  .object({
    id: z.string(),
    seq: z.number(),
    type: z.string(),
    queue: z.string(),
    status: Status,
    payload: JsonValue,
    priority: z.number(),
    runAt: DateString,
    attempt: z.number(),
    maxAttempts: z.number(),
    attemptFloor: z.number(),
    timeoutMs: z.number().nullable(),
    backoff: z.object({ baseMs: z.number(), factor: z.number(), maxMs: z.number(), jitter: z.number() }),
    idempotencyKey: z.string().nullable(),
    idempotencyExpiresAt: NullableDate,
    sessionId: z.string().nullable(),
    sessionIndex: z.number().nullable(),
    key: z.string().nullable(),
    userId: z.string().nullable(),
    metadata: JsonObject,
    workerId: z.string().nullable(),
    machineId: z.string().nullable(),
    leaseExpiresAt: NullableDate,
    result: JsonValue,
    error: TaskErrorOut.nullable(),
    progress: JsonValue,
    manualRetries: z.number(),
    retryHistory: z.array(
      z.object({
        attempt: z.number(),
        at: z.string(),
        by: z.string(),
        reason: z.string().nullable(),
        outcome: z.string().nullable(),
      }),
    ),
    avoidMachineId: z.string().nullable(),
    avoidLabels: z.record(z.string(), z.string()).nullable(),
    cancelRequested: z.boolean(),
    tracking: Tracking,
    entryReleasedAt: NullableDate,
    createdAt: DateString,
    updatedAt: DateString,
    startedAt: NullableDate,
    finishedAt: NullableDate,
    parentId: z.string().nullable().describe('the task whose handler spawned this one'),
    depth: z.number().describe('0 for a root task, its parent’s depth + 1 for a child'),
    concurrencyKey: z.string().nullable(),
  })
  .meta({ id: 'Task' });

export const WaitReasonOut = z
  .object({
    reason: z.string(),
    message: z.string(),
    until: z.string().optional(),
    ahead: z.number().optional(),
    aheadCapped: z.boolean().optional(),
    workers: z
      .union([
        z.number(),
        z.array(
          z.object({
            id: z.string(),
            machineId: z.string(),
            types: z.array(z.string()),
            queues: z.array(z.string()),
          }),
        ),
      ])
      .optional(),
    slots: z.number().optional(),
    busySlots: z.number().optional(),
    pending: z.number().optional(),
    tasks: z.array(z.object({ id: z.string(), type: z.string(), status: z.string() })).optional(),
    scope: z.enum(['queue', 'type']).optional(),
    name: z.string().optional(),
    since: z.string().optional(),
    key: z.string().optional(),
    running: z.number().optional(),
    limit: z.number().optional(),
  })
  .meta({ id: 'WaitReason' });

/** GET /tasks/:id: the task, and why it is not running (null while it runs or once it finished). */
export const TaskDetailOut = TaskOut.extend({ waitingOn: z.array(WaitReasonOut).nullable() }).meta({
  id: 'TaskDetail',
});

export const ClaimedTaskOut = TaskOut.pick({
  id: true,
  seq: true,
  type: true,
  queue: true,
  payload: true,
  priority: true,
  runAt: true,
  attempt: true,
  maxAttempts: true,
  timeoutMs: true,
  idempotencyKey: true,
  sessionId: true,
  sessionIndex: true,
  key: true,
  userId: true,
  metadata: true,
  createdAt: true,
  concurrencyKey: true,
})
  .extend({ workerId: z.string(), leaseExpiresAt: DateString, startedAt: DateString })
  .meta({
    id: 'ClaimedTask',
    description:
      'a task as a claim hands it to a worker; send attempt (and seq) back with every report; GET /tasks/{id} has the whole task',
  });

export const Outcome = z.enum(['created', 'existing', 'retried', 'retry_refused', 'debounced', 'throttled']);
export const TaskPage = z.object({ items: z.array(TaskOut), nextCursor: z.string().nullable() });
export const Counts = z.record(z.string(), z.number());
export const BulkResultOut = z.object({ matched: z.number(), changed: z.number(), ids: z.array(z.string()) });

export const TaskEventOut = z.object({
  id: z.number(),
  taskId: z.string(),
  attempt: z.number(),
  kind: z.string(),
  at: DateString,
  workerId: z.string().nullable(),
  data: JsonObject.nullable(),
});

export const TaskTypeOut = z
  .object({
    type: z.string(),
    tracking: Tracking,
    maxAttempts: z.number().nullable(),
    timeoutMs: z.number().nullable(),
    backoff: JsonObject.nullable(),
    payloadSchema: JsonValue,
    updatedAt: DateString,
  })
  .meta({ id: 'TaskType' });

export const SessionOut = z
  .object({
    id: z.string(),
    key: z.string().nullable(),
    userId: z.string().nullable(),
    metadata: JsonObject,
    status: z.enum(['active', 'completed', 'failed', 'cancelled']),
    taskCount: z.number(),
    counts: z.record(z.string(), z.number()),
    progress: z.number(),
    createdAt: DateString,
    updatedAt: DateString,
  })
  .meta({ id: 'Session' });

export const EntryOut = z
  .object({
    short_id: z.string(),
    task_type: z.string(),
    task_id: z.string(),
    user_id: z.string().nullable(),
    status: z.enum(['active', 'completed', 'failed', 'cancelled']),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'SessionEntry' });

export const WorkerOut = z
  .object({
    id: z.string(),
    name: z.string().nullable(),
    machineId: z.string(),
    hostname: z.string().nullable(),
    pid: z.number().nullable(),
    version: z.string().nullable(),
    types: z.array(z.string()),
    queues: z.array(z.string()),
    concurrency: z.number(),
    labels: z.record(z.string(), z.string()),
    state: JsonValue,
    stats: z
      .object({ processed: z.number(), failed: z.number(), startedAt: z.string().optional() })
      .nullable(),
    stale: z.boolean(),
    staleReason: z.string().nullable(),
    registeredAt: DateString,
    lastHeartbeatAt: DateString,
    staleAt: NullableDate,
    deregisteredAt: NullableDate,
    liveness: z
      .object({
        eventLoopLagMs: z
          .number()
          .nullable()
          .describe('lag of its main event loop at the last heartbeat, ms'),
        heartbeatThread: z.boolean().nullable().describe('heartbeats sent from a thread of their own'),
        held: z.number().nullable().describe('attempts held at the last heartbeat'),
        leaseAgeMs: z.number().nullable().describe('since its leases were last renewed, when it holds any'),
        suspectedStuck: z
          .boolean()
          .describe('event loop blocked for a third of the lease, or leases half-way to lapsing'),
        reason: z.string().nullable(),
      })
      .describe('null fields: the worker does not report them (e.g. a worker of another language)'),
  })
  .meta({ id: 'Worker' });

export const WorkerEventOut = z.object({
  id: z.number(),
  workerId: z.string(),
  kind: z.string(),
  at: DateString,
  data: JsonValue,
});

export const QueueStatOut = z.object({
  queue: z.string(),
  status: Status,
  count: z.number(),
  oldestAgeMs: z.number().nullable(),
});

export const Problem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number(),
    detail: z.string(),
    code: z.string(),
    field: z.string().optional(),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details' });

/** Answers 204 No Content (typed loosely: a 204 route's schema lists only its problems). */
export function noContent(reply: FastifyReply): FastifyReply {
  return reply.code(204).send();
}

/** Error answers a route may give, for the OpenAPI document. */
export function problems(...statuses: number[]): Record<number, typeof Problem> {
  return Object.fromEntries(statuses.map((s) => [s, Problem]));
}
