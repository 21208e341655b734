import { GafferError } from '../core/errors.js';
import type { ApiToken } from '../store/store.js';
import type { Task } from '../store/types.js';

/**
 * A worker token's scope (issue 17, item 10): the queues and types its workers may claim. An
 * unscoped token (or none: auth off, or an admin) narrows nothing.
 */
export interface Scope {
  queues: string[] | null;
  types: string[] | null;
}

export function scopeOf(token: ApiToken | null): Scope | null {
  if (token?.role !== 'worker' || (!token.queues && !token.types)) return null;
  return { queues: token.queues, types: token.types };
}

/**
 * The list a worker may register or claim with under a scope: none asked (meaning "any") becomes
 * the scope's list; a name outside the scope is refused with 403 naming it.
 */
export function narrow(
  asked: string[] | undefined,
  allowed: string[] | null,
  field: 'types' | 'queues',
  token: ApiToken,
): string[] | undefined {
  if (!allowed) return asked;
  if (!asked || asked.length === 0) return allowed;
  const outside = asked.filter((n) => !allowed.includes(n));
  if (outside.length > 0) {
    throw new GafferError(
      'forbidden',
      `token ${token.name} is scoped to ${field} ${allowed.join(', ')}; ${outside.join(', ')} ${outside.length === 1 ? 'is' : 'are'} outside it`,
      { field, outside, allowed },
    );
  }
  return asked;
}

/** True when a task lies inside the scope. */
export function inScope(scope: Scope, task: Pick<Task, 'type' | 'queue'>): boolean {
  return (
    (!scope.types || scope.types.includes(task.type)) && (!scope.queues || scope.queues.includes(task.queue))
  );
}
