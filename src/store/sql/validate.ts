import { ValidationError } from '../../core/errors.js';
import { ID_PATTERN } from '../../core/ids.js';
import { checkJson } from '../../core/json-limits.js';
import { DEPENDENCY_FAILURE_POLICIES, WAIT_TIMEOUT_POLICIES } from '../../core/states.js';
import type { NewTask } from '../types.js';

/** A debounce or throttle window: up to 7 days. */
const MAX_FLOW_MS = 7 * 24 * 3600_000;

/** Type and queue names: letters, digits and . _ : - / ; 1–100 characters. */
export const NAME_PATTERN = /^[A-Za-z0-9._:\-/]{1,100}$/;
export const MAX_KEY_LENGTH = 255;

function fail(where: string, field: string, message: string): never {
  throw new ValidationError(`${where}${field} ${message}`, { field: `${where}${field}` });
}

export function checkName(value: unknown, where: string, field: string): void {
  if (typeof value !== 'string' || !NAME_PATTERN.test(value)) {
    fail(where, field, 'must be 1–100 characters of letters, digits and . _ : - /');
  }
}

export function checkId(value: unknown, where: string, field: string): void {
  if (value === undefined) return;
  if (typeof value !== 'string' || !ID_PATTERN.test(value)) {
    fail(where, field, 'must be 1–200 characters of letters, digits and . _ : @ - / + =');
  }
}

function checkInt(value: unknown, where: string, field: string, min: number, max: number): void {
  if (value === undefined || value === null) return;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(where, field, `must be an integer from ${min} to ${max}`);
  }
}

function checkText(value: unknown, where: string, field: string, max = MAX_KEY_LENGTH): void {
  if (value === undefined || value === null) return;
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    fail(where, field, `must be a non-empty string of at most ${max} characters`);
  }
}

/** Checks one task of a create request; `where` prefixes field names, e.g. "tasks[3].". */
export function checkNewTask(t: NewTask, where: string): void {
  if (typeof t !== 'object' || t === null) fail(where, 'task', 'must be an object');
  checkName(t.type, where, 'type');
  if (t.queue !== undefined) checkName(t.queue, where, 'queue');
  checkId(t.id, where, 'id');
  checkId(t.sessionId, where, 'sessionId');
  checkText(t.idempotencyKey, where, 'idempotencyKey');
  checkInt(t.idempotencyTtlMs, where, 'idempotencyTtlMs', 1, 10 * 366 * 24 * 3600_000);
  if (t.idempotencyTtlMs !== undefined && t.idempotencyKey === undefined) {
    fail(where, 'idempotencyTtlMs', 'needs an idempotencyKey: it is how long the key holds');
  }
  checkText(t.key, where, 'key');
  checkText(t.userId, where, 'userId');
  checkText(t.concurrencyKey, where, 'concurrencyKey');
  checkInt(t.priority, where, 'priority', -1_000_000, 1_000_000);
  checkInt(t.maxAttempts, where, 'maxAttempts', 1, 1000);
  checkInt(t.timeoutMs, where, 'timeoutMs', 1, 7 * 24 * 3600_000);
  checkInt(t.delayMs, where, 'delayMs', 0, 365 * 24 * 3600_000);
  if (t.runAt !== undefined && !(t.runAt instanceof Date && !Number.isNaN(t.runAt.getTime()))) {
    fail(where, 'runAt', 'must be a valid date');
  }
  if (t.backoff !== undefined) {
    checkInt(t.backoff.baseMs, where, 'backoff.baseMs', 0, 24 * 3600_000);
    checkInt(t.backoff.maxMs, where, 'backoff.maxMs', 0, 7 * 24 * 3600_000);
    if (t.backoff.factor !== undefined && !(t.backoff.factor >= 1 && t.backoff.factor <= 10)) {
      fail(where, 'backoff.factor', 'must be a number from 1 to 10');
    }
    if (t.backoff.jitter !== undefined && !(t.backoff.jitter >= 0 && t.backoff.jitter <= 1)) {
      fail(where, 'backoff.jitter', 'must be a number from 0 to 1');
    }
  }
  if (
    t.metadata !== undefined &&
    (typeof t.metadata !== 'object' || t.metadata === null || Array.isArray(t.metadata))
  ) {
    fail(where, 'metadata', 'must be an object');
  }
  if (t.dependsOn !== undefined) {
    if (!Array.isArray(t.dependsOn) || t.dependsOn.length > 1000) {
      fail(where, 'dependsOn', 'must be an array of at most 1000 task ids');
    }
    for (const [j, id] of t.dependsOn.entries()) {
      checkId(id, where, `dependsOn[${j}]`);
      if (id === undefined || (t.id !== undefined && id === t.id))
        fail(where, `dependsOn[${j}]`, 'must name another task');
    }
  }
  if (t.onDependencyFailure !== undefined && !DEPENDENCY_FAILURE_POLICIES.includes(t.onDependencyFailure)) {
    fail(where, 'onDependencyFailure', `must be one of ${DEPENDENCY_FAILURE_POLICIES.join(', ')}`);
  }
  if (t.waitFor !== undefined) {
    if (typeof t.waitFor !== 'object' || t.waitFor === null || t.waitFor.signal !== true) {
      fail(where, 'waitFor', 'must be { signal: true, timeoutMs?, onTimeout? }');
    }
    checkInt(t.waitFor.timeoutMs, where, 'waitFor.timeoutMs', 1, 365 * 24 * 3600_000);
    if (t.waitFor.onTimeout !== undefined && !WAIT_TIMEOUT_POLICIES.includes(t.waitFor.onTimeout)) {
      fail(where, 'waitFor.onTimeout', `must be one of ${WAIT_TIMEOUT_POLICIES.join(', ')}`);
    }
    if (t.dependsOn !== undefined && t.dependsOn.length > 0) {
      fail(where, 'waitFor', 'cannot be combined with dependsOn: a task waits for one thing at a time');
    }
  }
  checkFlowKeys(t, where);
  // What the database could not store as sent (NUL, unpaired surrogates, Infinity) or what nests past the limit.
  if (t.payload !== undefined) checkJson(t.payload, `${where}payload`);
  if (t.metadata !== undefined) checkJson(t.metadata, `${where}metadata`);
}

/** Whether a task asks for a debounce or throttle key: such a create takes a transaction of its own. */
export function hasFlowKey(t: NewTask): boolean {
  return t.debounce !== undefined || t.throttle !== undefined;
}

function checkFlowKeys(t: NewTask, where: string): void {
  for (const field of ['debounce', 'throttle'] as const) {
    const k = t[field];
    if (k === undefined) continue;
    if (typeof k !== 'object' || k === null || Array.isArray(k))
      fail(where, field, 'must be an object {key, ms}');
    if (typeof k.key !== 'string' || k.key.length === 0 || k.key.length > MAX_KEY_LENGTH) {
      fail(where, `${field}.key`, `must be a non-empty string of at most ${MAX_KEY_LENGTH} characters`);
    }
    if (typeof k.ms !== 'number' || !Number.isInteger(k.ms) || k.ms < 1 || k.ms > MAX_FLOW_MS) {
      fail(where, `${field}.ms`, `must be an integer from 1 to ${MAX_FLOW_MS}`);
    }
  }
  if (t.debounce !== undefined && t.throttle !== undefined) {
    fail(where, 'throttle', 'cannot be combined with debounce: a task is either debounced or throttled');
  }
  if (t.debounce !== undefined && (t.runAt !== undefined || t.delayMs !== undefined)) {
    fail(
      where,
      t.runAt !== undefined ? 'runAt' : 'delayMs',
      'cannot be combined with debounce, which sets the run time',
    );
  }
}

/** Checks every task of a create call, naming fields as insertTasks does. */
export function checkNewTasks(tasks: NewTask[]): void {
  for (const [i, t] of tasks.entries()) checkNewTask(t, tasks.length === 1 ? '' : `tasks[${i}].`);
}

/** A rate-limit report: how long to wait, and an optional reason for the history. */
export function checkRateLimit(p: { retryAfterMs: unknown; reason?: unknown }): void {
  checkInt(p.retryAfterMs, '', 'retryAfterMs', 0, MAX_FLOW_MS);
  if (p.retryAfterMs === undefined || p.retryAfterMs === null) fail('', 'retryAfterMs', 'is required');
  checkText(p.reason, '', 'reason', 1000);
}
