import { z } from 'zod';
import { ID_PATTERN } from '../core/ids.js';
import {
  DEPENDENCY_FAILURE_POLICIES,
  TASK_STATUSES,
  TRACKING_POLICIES,
  WAIT_TIMEOUT_POLICIES,
} from '../core/states.js';
import { NAME_PATTERN } from '../store/sql/validate.js';
import type { Json, TaskFilter } from '../store/types.js';
import { WAIT_FILTERS } from '../store/wait-types.js';
import { FlowKey, flowKeyClashes } from './flow-key-schema.js';

/**
 * The request and response shapes of the HTTP API, in one place. Request schemas
 * validate (and their messages name the field); response schemas document: the
 * server serialises with plain JSON.stringify for speed, and test/server checks
 * real answers against these schemas so the OpenAPI document stays true.
 */

/** Any JSON value (a payload, a result, progress, state). */
export const JsonValue = z.unknown() as unknown as z.ZodType<Json>;
/**
 * A JSON object, passed through as parsed: a zod record would copy it and drop a `__proto__` key,
 * which the API keeps as ordinary data (the body parser makes every key an own property).
 */
export const JsonObject = z
  .custom<Record<string, Json>>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), {
    message: 'must be an object',
  })
  .meta({ type: 'object', additionalProperties: {} });

export const Name = z
  .string()
  .regex(NAME_PATTERN, 'must be 1–100 characters of letters, digits and . _ : - /')
  .describe('letters, digits and . _ : - /, 1–100 characters');
export const Id = z
  .string()
  .regex(ID_PATTERN, 'must be 1–200 characters of letters, digits and . _ : @ - / + =')
  .describe('letters, digits and . _ : @ - / + =, 1–200 characters');
export const Text = z.string().min(1, 'must not be empty').max(255, 'must be at most 255 characters');
export const Reason = z.string().max(1000, 'must be at most 1000 characters');
export const IsoDate = z.iso
  .datetime({ offset: true, message: 'must be an ISO 8601 date-time, e.g. 2025-01-31T12:00:00Z' })
  .transform((s) => new Date(s));
export const Limit = z.coerce
  .number()
  .int('must be an integer')
  .min(1, 'must be from 1 to 1000')
  .max(1000, 'must be from 1 to 1000');
export const Status = z.enum(TASK_STATUSES);
export const Tracking = z.enum(TRACKING_POLICIES);
export const BoolString = z
  .enum(['true', 'false'], { message: 'must be true or false' })
  .transform((v) => v === 'true');

/** A query parameter that may repeat or hold a comma-separated list. */
function listOf<T extends z.ZodType<unknown, string>>(item: T) {
  return z
    .union([z.string(), z.array(z.string())])
    .transform((v) => (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(',')).filter((s) => s.length > 0))
    .pipe(z.array(item).max(100, 'must list at most 100 values'));
}

export const Backoff = z.strictObject({
  baseMs: z
    .number()
    .int()
    .min(0)
    .max(24 * 3600_000)
    .optional(),
  factor: z.number().min(1).max(10).optional(),
  maxMs: z
    .number()
    .int()
    .min(0)
    .max(7 * 24 * 3600_000)
    .optional(),
  jitter: z.number().min(0).max(1).optional(),
});

const NewTaskFields = {
  type: Name,
  payload: JsonValue.optional(),
  id: Id.optional(),
  queue: Name.optional(),
  idempotencyKey: Text.optional(),
  idempotencyTtlMs: z
    .number()
    .int()
    .min(1)
    .max(10 * 366 * 24 * 3600_000)
    .optional()
    .describe(
      'how long the idempotency key holds; after it the same key creates a new task (omitted: for ever)',
    ),
  concurrencyKey: Text.optional().describe(
    'flow control: per-key limits count the running tasks of this key',
  ),
  priority: z.number().int().min(-1_000_000).max(1_000_000).optional(),
  runAt: IsoDate.optional(),
  delayMs: z
    .number()
    .int()
    .min(0)
    .max(365 * 24 * 3600_000)
    .optional(),
  maxAttempts: z.number().int().min(1).max(1000).optional(),
  timeoutMs: z
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 3600_000)
    .optional(),
  backoff: Backoff.optional(),
  metadata: JsonObject.optional(),
  dependsOn: z
    .array(Id)
    .max(1000)
    .optional()
    .describe('ids of tasks this one waits for (existing, or of the same call)'),
  onDependencyFailure: z
    .enum(DEPENDENCY_FAILURE_POLICIES)
    .optional()
    .describe('when a dependency fails: cancel (default) or run'),
  waitFor: z
    .strictObject({
      signal: z.literal(true),
      timeoutMs: z
        .number()
        .int()
        .min(1)
        .max(365 * 24 * 3600_000)
        .optional(),
      onTimeout: z.enum(WAIT_TIMEOUT_POLICIES).optional(),
    })
    .optional()
    .describe('wait for POST /tasks/{id}/signal before running; on timeout fail (default) or run'),
};

const NewTaskObject = z.strictObject({
  ...NewTaskFields,
  sessionId: Id.optional(),
  key: Text.optional(),
  userId: Text.optional(),
  debounce: FlowKey.optional().describe(
    'one waiting task per (type, key): a create while it waits replaces its payload and runs it ms later (outcome debounced)',
  ),
  throttle: FlowKey.optional().describe(
    'at most one task per (type, key) per ms: creates within the window answer that task (outcome throttled)',
  ),
});

export const NewTask = NewTaskObject.superRefine(flowKeyClashes);

export const SessionTask = z.strictObject({
  ...NewTaskFields,
  after: z
    .array(z.number().int().min(0))
    .max(1000)
    .optional()
    .describe('indexes of this session’s tasks that must complete first (a DAG; a cycle is refused)'),
});

export const CreateTaskBody = NewTaskObject.extend({
  retry: z.boolean().optional().describe('re-sending the id of a failed or cancelled task retries it'),
}).superRefine(flowKeyClashes);
export const BulkCreateBody = z.strictObject({
  tasks: z.array(NewTask).min(1, 'must hold at least one task').max(10_000, 'must hold at most 10000 tasks'),
  retry: z.boolean().optional(),
});
export const CreateSessionBody = z.strictObject({
  id: Id.optional(),
  key: Text.optional(),
  userId: Text.optional(),
  metadata: JsonObject.optional(),
  queue: Name.optional(),
  tasks: z.array(SessionTask).max(10_000, 'must hold at most 10000 tasks'),
});

/** The reasons to wait a task list can be filtered by (GET /tasks/:id explains every reason). */
export const WaitFilter = z.enum(WAIT_FILTERS);

export const FilterFields = {
  status: listOf(Status).optional(),
  type: listOf(Name).optional(),
  queue: listOf(Name).optional(),
  sessionId: Id.optional(),
  key: Text.optional(),
  userId: Text.optional(),
  workerId: Id.optional(),
  createdAfter: IsoDate.optional(),
  createdBefore: IsoDate.optional(),
  errorContains: Text.optional(),
  ids: listOf(Id).optional(),
  waitingOn: WaitFilter.optional(),
};
export const TaskQuery = z.strictObject({
  ...FilterFields,
  limit: Limit.default(50),
  cursor: z.string().max(100).optional(),
  order: z.enum(['asc', 'desc']).optional(),
});
export const CountQuery = z.strictObject(FilterFields);

/** A filter in a JSON body (bulk retry / cancel). */
export const BodyFilter = z.strictObject({
  status: z.union([Status, z.array(Status)]).optional(),
  type: z.union([Name, z.array(Name)]).optional(),
  queue: z.union([Name, z.array(Name)]).optional(),
  sessionId: Id.optional(),
  key: Text.optional(),
  userId: Text.optional(),
  workerId: Id.optional(),
  createdAfter: IsoDate.optional(),
  createdBefore: IsoDate.optional(),
  errorContains: Text.optional(),
  ids: z.array(Id).max(10_000).optional(),
  waitingOn: WaitFilter.optional(),
});

export function isEmptyFilter(f: TaskFilter): boolean {
  return Object.values(f).every((v) => v === undefined);
}

export const ByReason = z.strictObject({
  reason: Reason.optional(),
  by: Text.optional().describe(
    'who acts; recorded in the history (prefixed with the token name when auth is on)',
  ),
});

export const IdParams = z.strictObject({ id: Id });
