import { getRandomValues } from 'node:crypto';
import { v7 } from 'uuid';

/** Client-chosen ids: printable, no whitespace, at most 200 characters. */
export const ID_PATTERN = /^[A-Za-z0-9._:@\-/+=]{1,200}$/;
export const MAX_ID_LENGTH = 200;

/**
 * A new id: a UUID version 7, which starts with the time in milliseconds. Ids made one after
 * another sort together, so a batch of new tasks goes into the same few pages of the id index
 * instead of random ones (measured: a fifth less database CPU per created task).
 */
export function newId(): string {
  const random = randomBytes16();
  const now = Date.now();
  // uuid's own v7 state, kept here because its random bytes come from the pool: within a millisecond
  // the counter counts up from a random start, so ids made one after another still sort in order.
  if (now > lastMs) {
    lastMs = now;
    seq = ((random[6]! & 0x7f) << 24) | (random[7]! << 16) | (random[8]! << 8) | random[9]!;
  } else {
    seq = (seq + 1) | 0;
    if (seq === 0) lastMs++;
  }
  return v7({ random, msecs: lastMs, seq });
}

let lastMs = Number.NEGATIVE_INFINITY;
let seq = 0;

/**
 * uuid asks the system for 16 random bytes per id (a getrandom call: 15 µs per id on this VM, a third of
 * the SDK's CPU per task of a bulk create); one call fills 256 ids' worth.
 */
const POOL_BYTES = 4096;
const pool = new Uint8Array(POOL_BYTES);
let poolAt = POOL_BYTES;
function randomBytes16(): Uint8Array {
  if (poolAt + 16 > POOL_BYTES) {
    getRandomValues(pool);
    poolAt = 0;
  }
  const bytes = pool.subarray(poolAt, poolAt + 16);
  poolAt += 16;
  return bytes;
}

export function isValidId(id: string): boolean {
  return ID_PATTERN.test(id);
}
