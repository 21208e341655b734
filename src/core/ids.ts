import { randomUUID } from 'node:crypto';

/** Client-chosen ids: printable, no whitespace, at most 200 characters. */
export const ID_PATTERN = /^[A-Za-z0-9._:@\-/+=]{1,200}$/;
export const MAX_ID_LENGTH = 200;

export function newId(): string {
  return randomUUID();
}

export function isValidId(id: string): boolean {
  return ID_PATTERN.test(id);
}
