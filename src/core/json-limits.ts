import { ValidationError } from './errors.js';

/**
 * How deep a JSON value (a payload, result, progress, worker state, metadata) may nest: objects and
 * arrays inside each other at most this many levels. Deeper values are refused with a 400 naming
 * the field and this limit, long before anything recursive (JSON.stringify, PostgreSQL's jsonb
 * parser) could run out of stack on them.
 */
export const MAX_JSON_DEPTH = 64;

/** Levels a request body may add around its JSON values (`{tasks: [{payload}]}` adds three). */
export const BODY_ENVELOPE_DEPTH = 8;

export interface JsonProblem {
  field: string;
  message: string;
}

interface Frame {
  value: unknown;
  depth: number;
  parent: Frame | null;
  key: string | number | null;
}

/** String.prototype.isWellFormed (Node 20+), newer than the project's TypeScript lib. */
interface WellFormed {
  isWellFormed(): boolean;
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function pathOf(base: string, frame: Frame): string {
  const keys: Array<string | number> = [];
  for (let f: Frame | null = frame; f && f.key !== null; f = f.parent) keys.push(f.key);
  let out = base;
  for (const k of keys.reverse()) {
    if (typeof k === 'number') out += `[${k}]`;
    else if (IDENT.test(k)) out += out ? `.${k}` : k;
    else out += `[${JSON.stringify(k)}]`;
  }
  return out;
}

function badString(s: string): string | null {
  if (s.includes('\u0000')) return 'contains a NUL character (\\u0000), which PostgreSQL cannot store';
  if (!(s as unknown as WellFormed).isWellFormed())
    return 'contains an unpaired UTF-16 surrogate; send valid Unicode';
  return null;
}

/**
 * What in `value` Gaffer cannot store as sent (at most `limit` problems, in document order):
 * nesting deeper than `maxDepth`, a string or key with a NUL character or an unpaired surrogate
 * (PostgreSQL refuses both), a number that is not finite (`1e400` parses to Infinity and would be
 * stored as null), or a value JSON has no form for (a bigint, a function). Iterative: any depth
 * is safe to check.
 */
export function findJsonProblems(
  value: unknown,
  field: string,
  maxDepth = MAX_JSON_DEPTH,
  limit = 50,
): JsonProblem[] {
  const out: JsonProblem[] = [];
  const stack: Frame[] = [{ value, depth: 0, parent: null, key: null }];
  let tooDeep = false;
  while (stack.length > 0 && out.length < limit) {
    const frame = stack.pop() as Frame;
    const v = frame.value;
    switch (typeof v) {
      case 'string': {
        const why = badString(v);
        if (why) out.push({ field: pathOf(field, frame), message: why });
        continue;
      }
      case 'number':
        if (!Number.isFinite(v))
          out.push({
            field: pathOf(field, frame),
            message:
              'is not a finite number (a literal like 1e400 overflows to Infinity); send it as a string',
          });
        continue;
      case 'bigint':
      case 'function':
      case 'symbol':
        out.push({ field: pathOf(field, frame), message: `is a ${typeof v}, which JSON cannot hold` });
        continue;
      case 'object':
        break;
      default:
        continue;
    }
    if (v === null) continue;
    const depth = frame.depth + 1;
    if (depth > maxDepth) {
      // Reported once, at the value's field: the path down to the limit is the limit long.
      if (!tooDeep)
        out.push({
          field,
          message: `nests deeper than ${maxDepth} levels of objects and arrays (the limit)`,
        });
      tooDeep = true;
      continue;
    }
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], depth, parent: frame, key: i });
      continue;
    }
    const keys = Object.keys(v);
    const children: Frame[] = [];
    for (const key of keys) {
      const why = badString(key);
      if (why) out.push({ field: pathOf(field, frame), message: `has a key that ${why}` });
      else children.push({ value: (v as Record<string, unknown>)[key], depth, parent: frame, key });
    }
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i] as Frame);
  }
  return out;
}

/** The first problem findJsonProblems finds, or null. */
export function findJsonProblem(
  value: unknown,
  field: string,
  maxDepth = MAX_JSON_DEPTH,
): JsonProblem | null {
  return findJsonProblems(value, field, maxDepth, 1)[0] ?? null;
}

/** Throws a ValidationError naming the field when `value` cannot be stored (see findJsonProblem). */
export function checkJson(value: unknown, field: string, maxDepth = MAX_JSON_DEPTH): void {
  const found = findJsonProblems(value, field, maxDepth);
  if (found.length > 0) throw jsonProblemError(found);
}

/** The ValidationError for problems found: every field in `errors`, the first as `field`. */
export function jsonProblemError(found: JsonProblem[]): ValidationError {
  const first = found[0] as JsonProblem;
  const parts = found.map((p) => `${p.field} ${p.message}`);
  const message =
    parts.length === 1 ? (parts[0] as string) : `${parts.length} fields are invalid: ${parts.join('; ')}`;
  return new ValidationError(message, { field: first.field, errors: found });
}

/** Body fields that hold free-form JSON: a body nested too deep is reported at the first of these on the way down. */
const VALUE_FIELDS = new Set([
  'payload',
  'result',
  'progress',
  'state',
  'metadata',
  'summary',
  'payloadSchema',
  'labels',
  'stats',
  'error',
]);

/**
 * Checks a whole request body as parsed: the same problems as findJsonProblem, with nesting
 * limited to MAX_JSON_DEPTH plus the envelope, and a too-deep body reported at its JSON value
 * field (`tasks[3].payload nests deeper than 64 levels`), which is what went past the limit.
 */
export function findBodyProblems(body: unknown): JsonProblem[] {
  return findJsonProblems(body, '', MAX_JSON_DEPTH + BODY_ENVELOPE_DEPTH).map((p) =>
    p.message.startsWith('nests deeper')
      ? {
          field: deepestValueField(body),
          message: `nests deeper than ${MAX_JSON_DEPTH} levels of objects and arrays (the limit)`,
        }
      : { field: p.field || 'body', message: p.message },
  );
}

/** The path to the first JSON value field on the way down the deepest branch (walked without recursion). */
function deepestValueField(body: unknown): string {
  let v: unknown = body;
  let path = '';
  for (let level = 0; level <= BODY_ENVELOPE_DEPTH && v !== null && typeof v === 'object'; level++) {
    let next: [string | number, unknown] | null = null;
    if (Array.isArray(v)) {
      const i = v.findIndex((x) => x !== null && typeof x === 'object' && tooDeep(x));
      if (i < 0) break;
      next = [i, v[i]];
    } else {
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        if (x !== null && typeof x === 'object' && tooDeep(x)) {
          next = [k, x];
          break;
        }
      }
      if (!next) break;
    }
    const [k, x] = next;
    path += typeof k === 'number' ? `[${k}]` : path ? `.${k}` : k;
    if (typeof k === 'string' && VALUE_FIELDS.has(k)) return path;
    v = x;
  }
  return path || 'body';
}

function tooDeep(v: unknown): boolean {
  return findJsonProblem(v, '', MAX_JSON_DEPTH)?.message.startsWith('nests deeper') ?? false;
}
