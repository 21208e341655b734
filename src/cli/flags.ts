import { statSync } from 'node:fs';
import { InvalidArgumentError, Option } from 'commander';

/**
 * Numeric flags with their range, checked as commander parses them: a wrong value is refused with
 * the flag (or the environment variable it came from) and the range named, e.g.
 * `error: option '--lease-ms <ms>' argument '0' is invalid. must be a whole number from 1000 to 86400000`.
 */
export function intOption(
  flags: string,
  description: string,
  range: { min: number; max: number; env?: string; default?: number },
): Option {
  const o = new Option(flags, range.env ? `${description} (env ${range.env})` : description).argParser(
    (v: string) => parseIntIn(v, range.min, range.max),
  );
  if (range.env) o.env(range.env);
  if (range.default !== undefined) o.default(range.default);
  return o;
}

/** A whole number in [min, max] written in decimal digits (no 1e3, no 0x10, no 1.5), else an InvalidArgumentError. */
export function parseIntIn(v: string, min: number, max: number): number {
  const text = v.trim();
  const n = /^-?\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}`);
  return n;
}

/** Refuses a data directory path that exists and is not a directory, with a message that says so. */
export function checkDataDir(dir: string, flag = '--data-dir'): void {
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    return; // absent: the store creates it
  }
  if (!isDir)
    throw new Error(
      `${flag} ${dir} is a file, not a directory: give the directory of the embedded store (it is created if missing)`,
    );
}
