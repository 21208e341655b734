import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmdirSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { GafferError } from '../../core/errors.js';

/**
 * The embedded store has one writer: PGlite is PostgreSQL in this process, and a second
 * process opening the same data directory aborts inside PGlite or corrupts it. The owner
 * holds `gaffer.lock` in the directory: its pid, host, since when, and the URL of the server
 * it runs (if any), so admin commands can go through that server's API instead.
 */
export const LOCK_FILE = 'gaffer.lock';

export interface LockOwner {
  pid: number;
  hostname: string;
  startedAt: string;
  /** The server's base URL once it listens: admin commands talk to it instead of opening the store. */
  url?: string;
  /** What holds it: `gaffer serve`, `gaffer token`, a program embedding the store. */
  command?: string;
}

/** Locks this process holds, by lock path: a lock file naming our own pid but not in here is stale. */
const held = new Set<string>();

export class DataDirLockedError extends GafferError {
  constructor(
    readonly dataDir: string,
    readonly owner: LockOwner,
  ) {
    const what = [owner.command, owner.url ? `serving ${owner.url}` : '', `since ${owner.startedAt}`]
      .filter(Boolean)
      .join(', ');
    super(
      'conflict',
      `the data directory ${dataDir} is in use by process ${owner.pid} on ${owner.hostname} (${what}): ` +
        `the embedded store has one writer. Stop process ${owner.pid} first` +
        `${owner.url ? `, or go through its API (--url ${owner.url})` : ''}; ` +
        `if no such process runs, remove ${join(dataDir, LOCK_FILE)}`,
      { dataDir, pid: owner.pid, url: owner.url },
    );
    this.name = 'DataDirLockedError';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function read(path: string): LockOwner | null {
  try {
    const owner = JSON.parse(readFileSync(path, 'utf8')) as LockOwner;
    return typeof owner.pid === 'number' ? owner : null;
  } catch {
    // Missing, or half written by an owner that died while writing it: no owner.
    return null;
  }
}

/** A lock whose owner is gone: another host's lock is never taken for stale (its pids are not ours). */
function isStale(path: string, owner: LockOwner | null): boolean {
  if (!owner) return true;
  if (owner.hostname !== hostname()) return false;
  if (owner.pid === process.pid) return !held.has(path);
  return !alive(owner.pid);
}

/** The live owner of a data directory, or null when nobody holds it (or only a stale lock is left). */
export function dataDirOwner(dataDir: string): LockOwner | null {
  const path = join(resolve(dataDir), LOCK_FILE);
  const owner = read(path);
  if (owner === null) return null;
  return isStale(path, owner) ? null : owner;
}

export class DataDirLock {
  private released = false;
  private constructor(
    readonly path: string,
    private owner: LockOwner,
  ) {}

  /**
   * Takes the lock of a data directory (creating the directory), or throws DataDirLockedError
   * naming the live owner. A lock left by a dead process is taken over.
   */
  static acquire(dataDir: string, command?: string): DataDirLock {
    const dir = resolve(dataDir);
    mkdirSync(dir, { recursive: true });
    const path = join(dir, LOCK_FILE);
    const owner: LockOwner = {
      pid: process.pid,
      hostname: hostname(),
      startedAt: new Date().toISOString(),
      ...(command ? { command } : {}),
    };
    for (let tries = 0; tries < 5; tries++) {
      try {
        const fd = openSync(path, 'wx', 0o644);
        try {
          writeFileSync(fd, `${JSON.stringify(owner)}\n`);
        } finally {
          closeSync(fd);
        }
        held.add(path);
        return new DataDirLock(path, owner);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const current = read(path);
      if (!isStale(path, current)) throw new DataDirLockedError(dir, current!);
      breakStale(path, current);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20 * (tries + 1));
    }
    throw new GafferError('conflict', `could not take the lock ${path}: it keeps changing hands; try again`);
  }

  /** Records the URL of the server this process runs, for admin commands to find. */
  advertise(url: string): void {
    if (this.released) return;
    this.owner = { ...this.owner, url };
    writeFileSync(this.path, `${JSON.stringify(this.owner)}\n`);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    held.delete(this.path);
    const current = read(this.path);
    if (current && current.pid === this.owner.pid && current.startedAt === this.owner.startedAt) {
      try {
        unlinkSync(this.path);
      } catch {
        // Already gone.
      }
    }
  }
}

/**
 * Removes a stale lock. Two processes may find the same stale lock at once: the removal runs
 * under a breaker directory (mkdir is atomic), and only if the file still names the same dead
 * owner, so neither removes the lock the other has just taken.
 */
function breakStale(path: string, seen: LockOwner | null): void {
  const breaker = `${path}.break`;
  try {
    mkdirSync(breaker);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // Another process is breaking it (the caller retries); one left by a crash is old: clear it.
    try {
      if (Date.now() - statSync(breaker).mtimeMs > 10_000) rmdirSync(breaker);
    } catch {
      // Gone already.
    }
    return;
  }
  try {
    const now = read(path);
    const same = JSON.stringify(now) === JSON.stringify(seen);
    if (same) {
      try {
        unlinkSync(path);
      } catch {
        // Gone already.
      }
    }
  } finally {
    rmdirSync(breaker);
  }
}
